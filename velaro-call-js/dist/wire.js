export * from "./generated/wire.js";
