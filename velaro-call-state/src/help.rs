//! How to allow a refused camera, microphone or screen in each browser.

use velaro_call_protocol::Device;

/// The visitor's browser, as the host application detected it (for permission help).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Browser {
    /// Google Chrome or Chromium.
    Chrome,
    /// Microsoft Edge.
    Edge,
    /// Mozilla Firefox.
    Firefox,
    /// Apple Safari.
    Safari,
    /// Anything else.
    #[default]
    Other,
}

/// Step-by-step help to allow `device` again in `browser`.
pub fn permission_help(browser: Browser, device: &Device) -> &'static str {
    let screen = matches!(device, Device::Screen);
    match (browser, screen) {
        (Browser::Chrome, false) => {
            "Click the lock icon left of the address bar, open Camera and Microphone, choose \
             Allow, then reload the page."
        }
        (Browser::Edge, false) => {
            "Click the lock icon in the address bar, open Permissions for this site, set Camera \
             and Microphone to Allow, then reload the page."
        }
        (Browser::Firefox, false) => {
            "Click the camera icon in the address bar, remove the Blocked setting for Camera and \
             Microphone, then reload the page and allow access when asked."
        }
        (Browser::Safari, false) => {
            "Open Safari › Settings for This Website, set Camera and Microphone to Allow, then \
             reload the page."
        }
        (Browser::Other, false) => {
            "Allow camera and microphone access for this site in your browser's site settings, \
             then reload the page."
        }
        (Browser::Chrome | Browser::Edge, true) => {
            "Screen sharing was cancelled or blocked. Try again and pick a screen, window or tab; \
             on macOS, allow the browser under System Settings › Privacy & Security › Screen \
             Recording."
        }
        (Browser::Firefox | Browser::Safari | Browser::Other, true) => {
            "Screen sharing was cancelled or blocked. Try again and choose what to share; on \
             macOS, allow the browser under System Settings › Privacy & Security › Screen \
             Recording."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_each_browsers_own_path() {
        assert!(permission_help(Browser::Chrome, &Device::Camera).contains("lock icon"));
        assert!(
            permission_help(Browser::Safari, &Device::Microphone)
                .contains("Settings for This Website")
        );
        assert!(permission_help(Browser::Firefox, &Device::Camera).contains("Blocked"));
        assert!(
            permission_help(Browser::Edge, &Device::Camera).contains("Permissions for this site")
        );
        assert!(permission_help(Browser::Chrome, &Device::Screen).contains("Screen Recording"));
    }
}
