//! The connection phase: the server's greeting, the client's answer, and
//! the optional auth switch.

use super::caps;
use super::packet::{Cursor, ProtocolError};

/// The version string clients see. The `8.0.11` prefix is what TiDB sends:
/// drivers read the major/minor version to decide which features to use.
pub const SERVER_VERSION: &str = concat!("8.0.11-duet-", env!("CARGO_PKG_VERSION"));

/// Payload of the Handshake v10 packet.
pub fn greeting(connection_id: u32, salt: &[u8; 20], plugin: &str, status: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(128);
    p.push(10);
    p.extend_from_slice(SERVER_VERSION.as_bytes());
    p.push(0);
    p.extend_from_slice(&connection_id.to_le_bytes());
    p.extend_from_slice(&salt[..8]);
    p.push(0);
    p.extend_from_slice(&(caps::SERVER as u16).to_le_bytes());
    p.push(super::charset::UTF8MB4_BIN as u8);
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&((caps::SERVER >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&salt[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// The client's HandshakeResponse41.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeResponse {
    pub capabilities: u32,
    pub max_packet: u32,
    pub collation: u8,
    pub user: String,
    pub auth_response: Vec<u8>,
    pub database: Option<String>,
    pub plugin: Option<String>,
    pub attributes: Vec<(String, String)>,
}

/// Whether the first packet is an SSLRequest (32 bytes, CLIENT_SSL set)
/// rather than a full response.
pub fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == 32
        && u32::from_le_bytes(payload[..4].try_into().expect("4 bytes")) & caps::SSL != 0
}

pub fn parse_response(payload: &[u8]) -> Result<HandshakeResponse, ProtocolError> {
    let mut c = Cursor::new(payload);
    let capabilities = c.u32()?;
    if capabilities & caps::PROTOCOL_41 == 0 {
        return Err(ProtocolError::Malformed(
            "client does not speak protocol 4.1",
        ));
    }
    let max_packet = c.u32()?;
    let collation = c.u8()?;
    c.take(23)?;
    let user = lossy(c.nul_str());
    let auth_response = if capabilities & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        c.lenenc_str()?.to_vec()
    } else if capabilities & caps::SECURE_CONNECTION != 0 {
        let n = c.u8()? as usize;
        c.take(n)?.to_vec()
    } else {
        c.nul_str().to_vec()
    };
    let database = if capabilities & caps::CONNECT_WITH_DB != 0 && !c.is_empty() {
        Some(lossy(c.nul_str())).filter(|d| !d.is_empty())
    } else {
        None
    };
    let plugin = if capabilities & caps::PLUGIN_AUTH != 0 && !c.is_empty() {
        Some(lossy(c.nul_str())).filter(|p| !p.is_empty())
    } else {
        None
    };
    let mut attributes = Vec::new();
    if capabilities & caps::CONNECT_ATTRS != 0 && !c.is_empty() {
        let mut attrs = Cursor::new(c.lenenc_str()?);
        while !attrs.is_empty() {
            let k = lossy(attrs.lenenc_str()?);
            let v = lossy(attrs.lenenc_str()?);
            attributes.push((k, v));
        }
    }
    Ok(HandshakeResponse {
        capabilities,
        max_packet,
        collation,
        user,
        auth_response,
        database,
        plugin,
        attributes,
    })
}

/// AuthSwitchRequest: asks the client to answer `salt` with `plugin`.
pub fn auth_switch(plugin: &str, salt: &[u8; 20]) -> Vec<u8> {
    let mut p = vec![0xFE];
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p.extend_from_slice(salt);
    p.push(0);
    p
}

/// AuthMoreData carrying caching_sha2_password's "fast auth succeeded".
pub const FAST_AUTH_OK: [u8; 2] = [0x01, 0x03];

/// COM_CHANGE_USER's body (after the command byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    pub user: String,
    pub auth_response: Vec<u8>,
    pub database: Option<String>,
    pub plugin: Option<String>,
}

pub fn parse_change_user(body: &[u8], capabilities: u32) -> Result<ChangeUser, ProtocolError> {
    let mut c = Cursor::new(body);
    let user = lossy(c.nul_str());
    let auth_response = if capabilities & caps::SECURE_CONNECTION != 0 {
        let n = c.u8()? as usize;
        c.take(n)?.to_vec()
    } else {
        c.nul_str().to_vec()
    };
    let database = Some(lossy(c.nul_str())).filter(|d| !d.is_empty());
    let mut plugin = None;
    if !c.is_empty() {
        c.take(2)?; // character set
        if capabilities & caps::PLUGIN_AUTH != 0 {
            plugin = Some(lossy(c.nul_str())).filter(|p| !p.is_empty());
        }
    }
    Ok(ChangeUser {
        user,
        auth_response,
        database,
        plugin,
    })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::packet::put_lenenc_str;
    use super::*;

    #[test]
    fn greeting_layout() {
        let salt = *b"abcdefghijklmnopqrst";
        let g = greeting(7, &salt, "mysql_native_password", 2);
        assert_eq!(g[0], 10);
        let v = SERVER_VERSION.len();
        assert_eq!(&g[1..1 + v], SERVER_VERSION.as_bytes());
        assert_eq!(u32::from_le_bytes(g[v + 2..v + 6].try_into().unwrap()), 7);
        assert_eq!(&g[v + 6..v + 14], b"abcdefgh");
        assert!(g.ends_with(b"mysql_native_password\0"));
    }

    #[test]
    fn parses_a_response_with_db_plugin_and_attrs() {
        let caps = caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::PLUGIN_AUTH
            | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA
            | caps::CONNECT_WITH_DB
            | caps::CONNECT_ATTRS;
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&(1u32 << 24).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&[0; 23]);
        p.extend_from_slice(b"root\0");
        put_lenenc_str(&mut p, &[1, 2, 3]);
        p.extend_from_slice(b"test\0caching_sha2_password\0");
        let mut attrs = Vec::new();
        put_lenenc_str(&mut attrs, b"_client_name");
        put_lenenc_str(&mut attrs, b"libmysql");
        put_lenenc_str(&mut p, &attrs);
        let r = parse_response(&p).unwrap();
        assert_eq!(r.user, "root");
        assert_eq!(r.auth_response, vec![1, 2, 3]);
        assert_eq!(r.database.as_deref(), Some("test"));
        assert_eq!(r.plugin.as_deref(), Some("caching_sha2_password"));
        assert_eq!(
            r.attributes,
            vec![("_client_name".into(), "libmysql".into())]
        );
        // Truncations are errors, not panics.
        for n in 0..p.len() {
            let _ = parse_response(&p[..n]);
        }
    }
}
