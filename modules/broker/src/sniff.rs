//! Reads the protocol level of a CONNECT packet without consuming it, so one port can
//! serve MQTT 3.1.1 (level 4) and MQTT 5 (level 5) clients alike.

/// `Ok(Some(level))` once the bytes reach the level field, `Ok(None)` when more bytes are
/// needed, `Err(())` when this is not a CONNECT packet.
pub fn connect_protocol_level(bytes: &[u8]) -> Result<Option<u8>, ()> {
    let Some(first) = bytes.first() else {
        return Ok(None);
    };
    if first >> 4 != 1 {
        return Err(());
    }
    // Remaining length: 1 to 4 bytes, 7 bits each, high bit means "more".
    let mut index = 1;
    loop {
        let Some(byte) = bytes.get(index) else {
            return Ok(None);
        };
        index += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if index > 4 {
            return Err(());
        }
    }
    let (Some(hi), Some(lo)) = (bytes.get(index), bytes.get(index + 1)) else {
        return Ok(None);
    };
    let name_len = usize::from(u16::from_be_bytes([*hi, *lo]));
    Ok(bytes.get(index + 2 + name_len).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_level_or_asks_for_more() {
        // CONNECT, remaining length 16, "MQTT", level 4
        let v4 = [0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60];
        assert_eq!(connect_protocol_level(&v4), Ok(Some(4)));
        let mut v5 = v4;
        v5[8] = 5;
        assert_eq!(connect_protocol_level(&v5), Ok(Some(5)));
        assert_eq!(connect_protocol_level(&v4[..5]), Ok(None));
        assert_eq!(connect_protocol_level(&[]), Ok(None));
        assert_eq!(connect_protocol_level(&[0x30, 2, 0, 0]), Err(()));
        // two-byte remaining length
        let long = [0x10, 0x80, 0x01, 0, 4, b'M', b'Q', b'T', b'T', 5];
        assert_eq!(connect_protocol_level(&long), Ok(Some(5)));
    }
}
