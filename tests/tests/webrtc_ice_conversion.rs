//! `velaro-ice-config`'s `webrtc-ice` feature: our configuration becomes a webrtc-ice URL list.

use std::time::{Duration, UNIX_EPOCH};

use velaro_ice_config::{
    IceServer, IceTransportPolicy, RtcConfiguration, TurnCredentials, TurnSecret,
};
use webrtc_ice::url::{ProtoType, SchemeType};

#[test]
fn configuration_converts_to_agent_urls_with_credentials() {
    let secret = TurnSecret::new("integration-test-secret-0123456789").unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let creds = TurnCredentials::mint(&secret, "agent-7", Duration::from_secs(300), now).unwrap();
    let config = RtcConfiguration::new(
        vec![
            IceServer::stun(vec!["stun:[2001:db8::1]".parse().unwrap()]).unwrap(),
            IceServer::turn(
                vec![
                    "turn:turn.example.com?transport=tcp".parse().unwrap(),
                    "turns:turn.example.com:443".parse().unwrap(),
                ],
                &creds,
            )
            .unwrap(),
        ],
        IceTransportPolicy::All,
    )
    .unwrap();
    let urls = config.to_webrtc_ice_urls();
    let summary: Vec<_> = urls
        .iter()
        .map(|u| (u.scheme, u.host.as_str(), u.port, u.proto, u.username.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (SchemeType::Stun, "2001:db8::1", 3478, ProtoType::Udp, ""),
            (SchemeType::Turn, "turn.example.com", 3478, ProtoType::Tcp, "1800000300:agent-7"),
            (SchemeType::Turns, "turn.example.com", 443, ProtoType::Tcp, "1800000300:agent-7"),
        ]
    );
    assert_eq!(urls[1].password, creds.password().expose());
    // webrtc-ice's own parser reads our canonical text the same way.
    for (url, server_url) in urls.iter().skip(1).zip(config.ice_servers()[1].urls()) {
        let reparsed = webrtc_ice::url::Url::parse_url(&server_url.to_string()).unwrap();
        assert_eq!(
            (reparsed.scheme, reparsed.port, reparsed.proto),
            (url.scheme, url.port, url.proto)
        );
    }
}
