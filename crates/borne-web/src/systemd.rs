//! systemd's notification protocol (`Type=notify`), for the kiosk and the platform.

/// Sends a state line (`READY=1`, `WATCHDOG=1`, `STATUS=…`) to systemd's notification socket,
/// when the process runs under systemd with one (`$NOTIFY_SOCKET`); false otherwise.
pub fn sd_notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return false };
    let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() else { return false };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr))
    } else {
        socket.send_to(state.as_bytes(), std::path::Path::new(&path))
    };
    sent.is_ok()
}

#[cfg(test)]
mod notify_tests {
    #[test]
    fn notifies_systemd_through_its_socket() {
        let dir = std::env::temp_dir().join(format!("borne-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // SAFETY: this test is the only one touching NOTIFY_SOCKET.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        assert!(super::sd_notify("READY=1"));
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        assert!(!super::sd_notify("READY=1"), "not under systemd: nothing sent");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
