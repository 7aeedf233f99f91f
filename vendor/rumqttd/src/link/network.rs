use bytes::BytesMut;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::timeout,
};

use std::{
    collections::VecDeque,
    io::{self, ErrorKind},
};
use tokio::time::{error::Elapsed, Duration};

use crate::protocol::{self, Packet, Protocol};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O = {0}")]
    Io(#[from] io::Error),
    #[error("Invalid data = {0}")]
    Protocol(#[from] protocol::Error),
    #[error["Keep alive timeout"]]
    KeepAlive(#[from] Elapsed),
}

/// plantd patch: the least a read asks the socket for.
const READ_CHUNK: usize = 512;
/// plantd patch: the most a drained buffer keeps allocated.
const SPARE_BYTES: usize = 4 * 1024;

/// Network transforms packets <-> frames efficiently. It takes
/// advantage of pre-allocation, buffering and vectorization when
/// appropriate to achieve performance
pub struct Network<P> {
    /// Socket for IO
    socket: Box<dyn N>,
    /// Buffered reads
    read: BytesMut,
    /// Buffered writes
    write: BytesMut,
    /// Maximum packet size
    max_incoming_size: usize,
    /// Maximum connection buffer count. TODO: Change this to use bytes for deterministicness
    max_connection_buffer_len: usize,
    /// Keep alive timeout
    keepalive: Duration,
    /// Protocol
    protocol: P,
}

impl<P: Protocol> Network<P> {
    pub fn new(
        socket: Box<dyn N>,
        max_incoming_size: usize,
        max_connection_buffer_len: usize,
        protocol: P,
    ) -> Network<P> {
        Network {
            socket,
            // plantd patch: both grow on demand and are freed once a burst grew them past
            // SPARE_BYTES and they are drained (rumqttd allocated 10 KiB each up front).
            read: BytesMut::new(),
            write: BytesMut::new(),
            max_incoming_size,
            max_connection_buffer_len,
            // Overwritten by keepalive value in connect packet, otherwise we
            // would wait indefinitely until we get a packet / network error
            // when we call read.
            keepalive: Duration::MAX,
            protocol,
        }
    }

    pub fn set_keepalive(&mut self, keepalive: u16) {
        let keepalive = Duration::from_secs(keepalive as u64);
        self.keepalive = keepalive + keepalive.mul_f32(0.5);
    }

    /// Reads more than 'required' bytes to frame a packet into self.read buffer
    async fn read_bytes(&mut self, required: usize) -> io::Result<usize> {
        // TODO: Fix this cancellation bug and write unit test
        let mut total_read = 0;
        loop {
            // plantd patch: room for what the frame needs, at least READ_CHUNK; an idle
            // connection waits with this much (not the 10 KiB rumqttd kept for each).
            if self.read.is_empty() && self.read.capacity() > SPARE_BYTES {
                self.read = BytesMut::new();
            }
            self.read.reserve(required.max(READ_CHUNK));
            let read = self.socket.read_buf(&mut self.read).await?;
            if 0 == read {
                let error = if self.read.is_empty() {
                    io::Error::new(ErrorKind::ConnectionAborted, "connection closed by peer")
                } else {
                    io::Error::new(ErrorKind::ConnectionReset, "connection reset by peer")
                };

                return Err(error);
            }

            total_read += read;
            if total_read >= required {
                return Ok(total_read);
            }
        }
    }

    /// Waits on network for 1 packet
    pub async fn read(&mut self) -> Result<Packet, Error> {
        loop {
            let required = match Protocol::read_mut(
                &mut self.protocol,
                &mut self.read,
                self.max_incoming_size,
            ) {
                Ok(packet) => return Ok(packet),
                Err(protocol::Error::InsufficientBytes(required)) => required,
                Err(e) => return Err(e.into()),
            };

            // read more packets until a frame can be created. This function
            // blocks until a frame can be created. Use this in a select! branch
            timeout(self.keepalive, self.read_bytes(required)).await??;
        }
    }

    /// Read packets in bulk. This allow replies to be in bulk. This method is used
    /// after the connection is established to read a bunch of incoming packets
    pub fn readv(&mut self, packets: &mut VecDeque<Packet>) -> Result<usize, Error> {
        loop {
            match self
                .protocol
                .read_mut(&mut self.read, self.max_incoming_size)
            {
                Ok(packet) => {
                    packets.push_back(packet);
                    let connection_buffer_length = packets.len();
                    if connection_buffer_length >= self.max_connection_buffer_len {
                        return Ok(connection_buffer_length);
                    }
                }
                Err(protocol::Error::InsufficientBytes(_)) => return Ok(packets.len()),
                // plantd patch: an oversized packet stays typed, so the client can be told.
                Err(e @ protocol::Error::PayloadSizeLimitExceeded(_)) => return Err(e.into()),
                // plantd patch: so is a publish over the receive maximum.
                Err(e @ protocol::Error::ReceiveMaximumExceeded) => return Err(e.into()),
                Err(e) => return Err(io::Error::new(ErrorKind::InvalidData, e.to_string()).into()),
            }
        }
    }

    /// plantd patch: after a last packet to the client, ends the sending side and reads and
    /// discards whatever the client still sends, for at most `wait`: closing with unread
    /// input would reset the connection, and the client could lose that last packet.
    pub async fn linger(&mut self, wait: Duration) {
        let socket = &mut self.socket;
        let _ = timeout(wait, async {
            let _ = socket.shutdown().await;
            let mut scratch = [0u8; 4096];
            while let Ok(n) = socket.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }

    pub async fn write(&mut self, packet: Packet) -> Result<(), Error> {
        Protocol::write(&self.protocol, packet, &mut self.write)?;
        self.socket.write_all(&self.write).await?;
        self.written();
        Ok(())
    }

    pub async fn writev(&mut self, packets: VecDeque<Packet>) -> Result<(), Error> {
        for packet in packets {
            Protocol::write(&self.protocol, packet, &mut self.write)?;
        }
        self.socket.write_all(&self.write).await?;
        self.written();
        Ok(())
    }

    /// plantd patch: writes what the protocol has of its own to send (see
    /// [`Protocol::flush`]).
    pub async fn flush(&mut self) -> Result<(), Error> {
        Protocol::flush(&self.protocol, &mut self.write)?;
        if !self.write.is_empty() {
            self.socket.write_all(&self.write).await?;
        }
        self.written();
        Ok(())
    }

    /// plantd patch: the protocol's signal that it has packets to write.
    pub fn waker(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        self.protocol.waker()
    }

    /// plantd patch: empties the write buffer, freeing it once a burst grew it past
    /// SPARE_BYTES, and frees a drained read buffer likewise.
    fn written(&mut self) {
        self.write.clear();
        if self.write.capacity() > SPARE_BYTES {
            self.write = BytesMut::new();
        }
        if self.read.is_empty() && self.read.capacity() > SPARE_BYTES {
            self.read = BytesMut::new();
        }
    }
}

pub trait N: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T> N for T where T: AsyncRead + AsyncWrite + Unpin + Send {}
