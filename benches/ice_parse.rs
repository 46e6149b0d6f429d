//! Candidate and ICE URL parsing: ours (strict, typed errors) against webrtc-ice's and
//! sdp-types' parsers, on the same inputs in the same run.
//!
//! `cargo bench -p velaro-benches --bench ice_parse`; compare the medians within each group.

use std::hint::black_box;
use std::str::FromStr;

use criterion::{Criterion, criterion_group, criterion_main};
use velaro_ice_config::{Candidate, IceUrl};

/// Real browser candidate values (without the `candidate:` prefix, which only we accept).
const CANDIDATES: [&str; 6] = [
    "275346429 1 udp 2122260223 127.0.0.1 43974 typ host generation 0 ufrag lZ7j network-id 1 network-cost 50",
    "1856409957 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 ufrag lZ7j network-id 1 network-cost 50",
    "3835363761 1 udp 2113937151 9c2bcfc6-d912-448b-bb12-741511d3000c.local 34148 typ host generation 0 ufrag geFA network-cost 999",
    "1 1 UDP 2122252543 ::1 44584 typ host",
    "842163049 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0 ufrag EsAw network-id 1 network-cost 10",
    "3741928132 1 udp 41885695 198.51.100.9 61234 typ relay raddr 203.0.113.7 rport 54321 generation 0 ufrag EsAw network-id 1 network-cost 10",
];

const URLS: [&str; 5] = [
    "stun:stun.l.google.com:19302",
    "turn:turn.example.com?transport=tcp",
    "turns:turn.example.com:443?transport=tcp",
    "turn:192.0.2.1:3479",
    "turn:[2001:db8::1]:3478?transport=udp",
];

fn candidate_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("candidate_parse");
    group.bench_function("velaro", |b| {
        b.iter(|| {
            for text in CANDIDATES {
                black_box(Candidate::from_str(black_box(text)).ok());
            }
        });
    });
    group.bench_function("webrtc_ice", |b| {
        b.iter(|| {
            for text in CANDIDATES {
                black_box(
                    webrtc_ice::candidate::candidate_base::unmarshal_candidate(black_box(text))
                        .ok(),
                );
            }
        });
    });
    group.bench_function("sdp_types", |b| {
        b.iter(|| {
            for text in CANDIDATES {
                black_box(sdp_types::Candidate::from_str(black_box(text)).ok());
            }
        });
    });
    group.finish();
}

fn url_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("url_parse");
    group.bench_function("velaro", |b| {
        b.iter(|| {
            for text in URLS {
                black_box(IceUrl::from_str(black_box(text)).ok());
            }
        });
    });
    group.bench_function("webrtc_ice", |b| {
        b.iter(|| {
            for text in URLS {
                black_box(webrtc_ice::url::Url::parse_url(black_box(text)).ok());
            }
        });
    });
    group.finish();
}

/// Every input must parse with every parser, or the comparison would time error paths.
fn check_inputs() {
    for text in CANDIDATES {
        assert!(Candidate::from_str(text).is_ok(), "{text}");
        assert!(webrtc_ice::candidate::candidate_base::unmarshal_candidate(text).is_ok(), "{text}");
        assert!(sdp_types::Candidate::from_str(text).is_ok(), "{text}");
    }
    for text in URLS {
        assert!(
            IceUrl::from_str(text).is_ok() && webrtc_ice::url::Url::parse_url(text).is_ok(),
            "{text}"
        );
    }
}

fn benches(c: &mut Criterion) {
    check_inputs();
    candidate_parse(c);
    url_parse(c);
}

criterion_group!(ice, benches);
criterion_main!(ice);
