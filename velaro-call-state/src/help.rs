//! What to tell a user whose camera, microphone or screen request failed: how to allow a
//! refused one in each browser, and what to do about a device that is missing or busy.

use velaro_call_protocol::{Device, MediaError};

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

impl Browser {
    /// The browser named by a `User-Agent` header, as far as permission help cares. Edge and
    /// Chrome on iOS run on Apple's engine underneath, but they put their own settings first, so
    /// their own tokens win: `Edg`/`EdgA`/`EdgiOS` before `Chrome`/`CriOS`, and `Safari` only
    /// when no other token is present. Unknown or empty text is [`Browser::Other`].
    pub fn from_user_agent(user_agent: &str) -> Browser {
        let has = |token: &str| user_agent.contains(token);
        if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
            Browser::Edge
        } else if has("Firefox/") || has("FxiOS/") {
            Browser::Firefox
        } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
            Browser::Chrome
        } else if has("Safari/") {
            Browser::Safari
        } else {
            Browser::Other
        }
    }
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

/// What to tell the user whose request for `device` failed with `error`: the browser's way to
/// allow it for a refusal ([`MediaError::is_refusal`]) or a screen share, otherwise what the
/// failure means for the call. A camera that fails leaves the call on audio (the words say so);
/// a microphone that fails stops it.
pub fn media_help(browser: Browser, device: &Device, error: &MediaError) -> &'static str {
    if error.is_refusal() {
        return permission_help(browser, device);
    }
    match (device, error) {
        (Device::Screen, _) => permission_help(browser, device),
        (Device::Camera, MediaError::NotFound) => {
            "No camera was found, so the call continues with audio only. Connect a camera and \
             turn it on to add video."
        }
        (Device::Camera, MediaError::NotReadable) => {
            "Your camera is in use by another application, so the call continues with audio \
             only. Close that application and turn the camera on to add video."
        }
        (Device::Camera, MediaError::Overconstrained) => {
            "Your camera does not support the video settings of this call, so the call \
             continues with audio only."
        }
        (Device::Microphone, MediaError::NotFound) => {
            "No microphone was found. Connect a microphone and try again."
        }
        (Device::Microphone, MediaError::NotReadable) => {
            "Your microphone is in use by another application. Close that application and try \
             again."
        }
        (Device::Microphone, MediaError::Overconstrained) => {
            "Your microphone does not support the audio settings of this call."
        }
        (Device::Microphone, _) => "Your microphone could not be started. Try again.",
        (_, _) => "Your camera could not be started, so the call continues with audio only.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_gets_the_browsers_own_steps_and_a_failure_says_what_happens() {
        let denied = media_help(Browser::Firefox, &Device::Camera, &MediaError::NotAllowed);
        assert_eq!(denied, permission_help(Browser::Firefox, &Device::Camera));
        let insecure = media_help(Browser::Chrome, &Device::Microphone, &MediaError::Security);
        assert_eq!(insecure, permission_help(Browser::Chrome, &Device::Microphone));
        let busy = media_help(Browser::Chrome, &Device::Camera, &MediaError::NotReadable);
        assert!(busy.contains("in use by another application") && busy.contains("audio only"));
        let missing = media_help(Browser::Chrome, &Device::Microphone, &MediaError::NotFound);
        assert!(missing.starts_with("No microphone was found"));
        let odd = MediaError::Other("TypeError".to_owned());
        assert!(media_help(Browser::Other, &Device::Camera, &odd).contains("continues"));
        assert!(!media_help(Browser::Other, &Device::Microphone, &odd).contains("continues"));
    }

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

    #[test]
    fn user_agents_name_their_browser() {
        let cases = [
            // Debian's headless Chromium, as the browser tests run it.
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 HeadlessChrome/156.0.0.0 Safari/537.36",
                Browser::Chrome,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/156.0.0.0 Safari/537.36",
                Browser::Chrome,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0",
                Browser::Edge,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0",
                Browser::Firefox,
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) Version/18.0 Safari/605.1.15",
                Browser::Safari,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) CriOS/140.0 Mobile/15E148 Safari/604.1",
                Browser::Chrome,
            ),
            ("", Browser::Other),
        ];
        for (user_agent, browser) in cases {
            assert_eq!(Browser::from_user_agent(user_agent), browser, "{user_agent}");
        }
    }
}
