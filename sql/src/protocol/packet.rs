//! Packet framing and the protocol's primitive encodings.
//!
//! ```text
//! | payload length: u24 LE | sequence: u8 | payload ... |
//! ```
//!
//! A payload of `0xFF_FFFF` bytes or more travels as several packets of
//! exactly `0xFF_FFFF` bytes and a final shorter one (possibly empty), each
//! with the next sequence number. [`Out`] builds a whole response (often
//! many packets) in one buffer so the connection writes it with one syscall;
//! [`Reader`] reassembles a logical packet and checks sequence numbers.
//!
//! Length-encoded integers (`lenenc`): `< 0xFB` in one byte, else `0xFC` +
//! u16, `0xFD` + u24, `0xFE` + u64 (all little-endian); `0xFB` in a row
//! means NULL.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest payload one packet carries.
pub const MAX_PAYLOAD: usize = 0xFF_FFFF;

/// Something in the client's bytes that the protocol does not allow.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("connection closed")]
    Closed,
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("got packets out of order (sequence {got}, expected {expected})")]
    OutOfOrder { got: u8, expected: u8 },
    #[error("got a packet bigger than 'max_allowed_packet' bytes")]
    TooLarge,
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
}

/// A response under construction: framed packets in one buffer.
#[derive(Debug, Default)]
pub struct Out {
    pub buf: Vec<u8>,
    /// The sequence number of the next packet.
    pub seq: u8,
}

impl Out {
    pub fn new(seq: u8) -> Out {
        Out {
            buf: Vec::with_capacity(256),
            seq,
        }
    }

    /// Starts a packet; write its payload into `self.buf`, then call
    /// [`Out::finish`] with the returned mark.
    pub fn start(&mut self) -> usize {
        let mark = self.buf.len();
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
        mark
    }

    /// Frames the payload written since `mark`, splitting it if needed.
    pub fn finish(&mut self, mark: usize) {
        let len = self.buf.len() - mark - 4;
        if len < MAX_PAYLOAD {
            self.buf[mark..mark + 3].copy_from_slice(&(len as u32).to_le_bytes()[..3]);
            self.buf[mark + 3] = self.seq;
            self.seq = self.seq.wrapping_add(1);
            return;
        }
        let payload = self.buf.split_off(mark + 4);
        self.buf.truncate(mark);
        let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
        let mut last_len = 0;
        while let Some(chunk) = chunks.next() {
            self.push_frame(chunk);
            last_len = chunk.len();
            if chunks.peek().is_none() {
                break;
            }
        }
        if last_len == MAX_PAYLOAD {
            self.push_frame(&[]);
        }
    }

    fn push_frame(&mut self, chunk: &[u8]) {
        self.buf
            .extend_from_slice(&(chunk.len() as u32).to_le_bytes()[..3]);
        self.buf.push(self.seq);
        self.seq = self.seq.wrapping_add(1);
        self.buf.extend_from_slice(chunk);
    }

    /// One packet with the given payload.
    pub fn packet(&mut self, payload: &[u8]) {
        let mark = self.start();
        self.buf.extend_from_slice(payload);
        self.finish(mark);
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Reads logical packets from a byte stream.
pub struct Reader<R> {
    inner: R,
    /// The sequence number the next packet must carry.
    pub seq: u8,
    /// Payloads above this are refused (`max_allowed_packet`).
    pub max_packet: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(inner: R, max_packet: usize) -> Reader<R> {
        Reader {
            inner,
            seq: 0,
            max_packet,
        }
    }

    /// The next logical packet. `Closed` when the peer closed the stream
    /// cleanly between packets.
    pub async fn read(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            match self.inner.read_exact(&mut header).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && payload.is_empty() => {
                    return Err(ProtocolError::Closed);
                }
                Err(e) => return Err(e.into()),
            }
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
            if header[3] != self.seq {
                return Err(ProtocolError::OutOfOrder {
                    got: header[3],
                    expected: self.seq,
                });
            }
            self.seq = self.seq.wrapping_add(1);
            if payload.len() + len > self.max_packet {
                return Err(ProtocolError::TooLarge);
            }
            let start = payload.len();
            payload.resize(start + len, 0);
            self.inner.read_exact(&mut payload[start..]).await?;
            if len < MAX_PAYLOAD {
                return Ok(payload);
            }
        }
    }
}

// ---- primitive encodings -----------------------------------------------------

pub fn put_lenenc_int(buf: &mut Vec<u8>, v: u64) {
    if v < 0xFB {
        buf.push(v as u8);
    } else if v <= 0xFFFF {
        buf.push(0xFC);
        buf.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= 0xFF_FFFF {
        buf.push(0xFD);
        buf.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        buf.push(0xFE);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

pub fn put_lenenc_str(buf: &mut Vec<u8>, s: &[u8]) {
    put_lenenc_int(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// A cursor over a received payload; every getter fails with `Malformed`
/// instead of panicking on short input.
pub struct Cursor<'a> {
    pub data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.data.len() < n {
            return Err(ProtocolError::Malformed("packet too short"));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    pub fn lenenc_int(&mut self) -> Result<u64, ProtocolError> {
        match self.u8()? {
            b @ 0..=0xFA => Ok(b as u64),
            0xFC => Ok(self.u16()? as u64),
            0xFD => {
                let b = self.take(3)?;
                Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]) as u64)
            }
            0xFE => self.u64(),
            _ => Err(ProtocolError::Malformed("bad length-encoded integer")),
        }
    }

    pub fn lenenc_str(&mut self) -> Result<&'a [u8], ProtocolError> {
        let n = self.lenenc_int()?;
        let n = usize::try_from(n).map_err(|_| ProtocolError::Malformed("length"))?;
        self.take(n)
    }

    /// A NUL-terminated string (the NUL is consumed); the rest of the
    /// payload when there is no NUL.
    pub fn nul_str(&mut self) -> &'a [u8] {
        match self.data.iter().position(|&b| b == 0) {
            Some(i) => {
                let s = &self.data[..i];
                self.data = &self.data[i + 1..];
                s
            }
            None => std::mem::take(&mut self.data),
        }
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trip() {
        for v in [
            0u64,
            250,
            251,
            0xFFFF,
            0x10000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_lenenc_int(&mut b, v);
            assert_eq!(Cursor::new(&b).lenenc_int().unwrap(), v);
        }
        assert!(Cursor::new(&[0xFC, 1]).lenenc_int().is_err());
        assert!(Cursor::new(&[0xFF]).lenenc_int().is_err());
    }

    #[tokio::test]
    async fn big_payload_is_split_and_reassembled() {
        let payload = vec![7u8; MAX_PAYLOAD + 10];
        let mut out = Out::new(3);
        out.packet(&payload);
        assert_eq!(out.seq, 5);
        let mut r = Reader::new(&out.buf[..], 64 << 20);
        r.seq = 3;
        assert_eq!(r.read().await.unwrap(), payload);
        // Exactly MAX_PAYLOAD needs a trailing empty packet.
        let mut out = Out::new(0);
        out.packet(&vec![1u8; MAX_PAYLOAD]);
        assert_eq!(out.seq, 2);
        assert_eq!(out.buf.len(), MAX_PAYLOAD + 8);
    }

    #[tokio::test]
    async fn reader_refuses_out_of_order_and_oversized() {
        let mut out = Out::new(1);
        out.packet(b"x");
        let mut r = Reader::new(&out.buf[..], 1024);
        assert!(matches!(
            r.read().await,
            Err(ProtocolError::OutOfOrder {
                got: 1,
                expected: 0
            })
        ));
        let mut out = Out::new(0);
        out.packet(&[0u8; 100]);
        let mut r = Reader::new(&out.buf[..], 10);
        assert!(matches!(r.read().await, Err(ProtocolError::TooLarge)));
        let mut r = Reader::new(&[][..], 10);
        assert!(matches!(r.read().await, Err(ProtocolError::Closed)));
    }
}
