//! The device ids a client certificate names: its subject's common names (CN) and the DNS
//! names of its subjectAltName extension, kept when they are shaped like a device id. It
//! reads the DER only as far as those fields; rustls has already verified the certificate
//! against `tls_client_ca_file`. Pure: no I/O.

/// OID 2.5.4.3 (commonName), DER-encoded with its tag and length.
const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
/// OID 2.5.29.17 (subjectAltName).
const SUBJECT_ALT_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];

/// One DER element: (tag, content, what follows it).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// The elements of a constructed element's content, in order.
fn children(mut content: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (tag, value, rest) = element(content)?;
        content = rest;
        Some((tag, value))
    })
}

fn device_id(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    let shaped = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    shaped.then(|| name.to_owned())
}

/// The device-id-shaped names of certificate `der`; empty if it cannot be read.
pub fn device_ids(der: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let Some((0x30, certificate, _)) = element(der) else {
        return names;
    };
    let Some((0x30, tbs, _)) = element(certificate) else {
        return names;
    };
    let mut fields = children(tbs).peekable();
    // version [0] is optional; then serial, signature, issuer, validity, subject.
    if fields.peek().is_some_and(|(tag, _)| *tag == 0xa0) {
        fields.next();
    }
    let mut fields = fields.skip(4);
    if let Some((0x30, subject)) = fields.next() {
        for (_, set) in children(subject) {
            for (_, attribute) in children(set) {
                if let Some(value) = attribute.strip_prefix(COMMON_NAME) {
                    if let Some((0x0c | 0x13 | 0x16, name, _)) = element(value) {
                        names.extend(device_id(name));
                    }
                }
            }
        }
    }
    // subjectPublicKeyInfo, then the optional unique ids, then extensions [3].
    for (tag, content) in fields {
        if tag != 0xa3 {
            continue;
        }
        let Some((0x30, extensions, _)) = element(content) else {
            continue;
        };
        for (_, extension) in children(extensions) {
            let Some(rest) = extension.strip_prefix(SUBJECT_ALT_NAME) else {
                continue;
            };
            // An optional `critical` BOOLEAN, then the OCTET STRING holding the names.
            let value = children(rest).find(|(tag, _)| *tag == 0x04).map(|(_, v)| v);
            let Some((0x30, general_names, _)) = value.and_then(element) else {
                continue;
            };
            for (tag, name) in children(general_names) {
                // dNSName is [2], IMPLICIT IA5String.
                if tag == 0x82 {
                    names.extend(device_id(name));
                }
            }
        }
    }
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_names_nothing() {
        assert!(device_ids(&[]).is_empty());
        assert!(device_ids(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_empty());
        assert!(device_ids(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_empty());
    }

    #[test]
    fn device_ids_are_shaped_like_device_ids() {
        assert_eq!(device_id(b"press-01"), Some("press-01".to_owned()));
        assert_eq!(device_id(b"Press-01"), None);
        assert_eq!(device_id(b"-x"), None);
        assert_eq!(device_id(b"a,b"), None);
        assert_eq!(device_id(&[b'a'; 65]), None);
    }
}
