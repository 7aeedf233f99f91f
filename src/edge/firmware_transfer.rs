//! The edge's side of moving image bytes, shared by the REST and UI uploads and the
//! download: a request body goes to the firmware module as `UploadChunk`s of at most
//! `MAX_CHUNK_BYTES` (one in flight while the next is read, so the disk and the socket
//! overlap), and an image comes back as `ReadImage` chunks (the next read while the last is
//! sent). Memory stays bounded by two chunks per transfer; the edge never sees a path.
//! Touches nothing but the firmware module's messages.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix::dev::Request;
use actix::Addr;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use plantd_contracts::firmware::{
    AbortUpload, BeginUpload, FinishUpload, FirmwareContent, FirmwareView, ReadImage, UploadChunk,
    MAX_CHUNK_BYTES,
};
use plantd_devices::firmware::Firmware;

use crate::edge::{ApiResult, Problem};

/// Aborts the upload when dropped before [`Upload::finished`]: the client went away (the
/// handler's future is dropped) or the body failed, so the module removes its file now.
struct Upload {
    firmware: Addr<Firmware>,
    id: Option<String>,
}

impl Upload {
    fn finished(mut self) {
        self.id = None;
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(upload_id) = self.id.take() {
            self.firmware.do_send(AbortUpload { upload_id });
        }
    }
}

async fn answered(chunk: Request<Firmware, UploadChunk>) -> ApiResult<()> {
    chunk.await??;
    Ok(())
}

/// Streams `body` to the firmware module as a new image and keeps it. Any failure, and a
/// client that goes away, leave neither a file nor an image behind.
pub async fn upload<S, E>(
    firmware: &Addr<Firmware>,
    begin: BeginUpload,
    mut body: S,
) -> ApiResult<FirmwareView>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let upload_id = firmware.send(begin).await??;
    let guard = Upload {
        firmware: firmware.clone(),
        id: Some(upload_id.clone()),
    };
    let mut in_flight: Option<Request<Firmware, UploadChunk>> = None;
    let mut buffer = Vec::with_capacity(MAX_CHUNK_BYTES);
    let send = |bytes: Vec<u8>| {
        firmware.send(UploadChunk {
            upload_id: upload_id.clone(),
            bytes,
        })
    };
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| Problem::bad_request("body", e.to_string()))?;
        let mut rest = &piece[..];
        while !rest.is_empty() {
            let take = rest.len().min(MAX_CHUNK_BYTES - buffer.len());
            buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if buffer.len() == MAX_CHUNK_BYTES {
                if let Some(previous) = in_flight.take() {
                    answered(previous).await?;
                }
                let full = std::mem::replace(&mut buffer, Vec::with_capacity(MAX_CHUNK_BYTES));
                in_flight = Some(send(full));
            }
        }
    }
    if let Some(previous) = in_flight.take() {
        answered(previous).await?;
    }
    if !buffer.is_empty() {
        answered(send(buffer)).await?;
    }
    let image = firmware
        .send(FinishUpload {
            upload_id: upload_id.clone(),
        })
        .await??;
    guard.finished();
    Ok(image)
}

/// The bytes of an authorised image, read from the firmware module chunk by chunk, one read
/// ahead of the socket. A failed or short read ends the stream with an error, so the client
/// sees a truncated body, never wrong bytes.
pub struct ImageBody {
    firmware: Addr<Firmware>,
    content: FirmwareContent,
    /// Where the next read starts.
    next: u64,
    pending: Option<Pin<Box<Request<Firmware, ReadImage>>>>,
}

impl ImageBody {
    pub fn new(firmware: Addr<Firmware>, content: FirmwareContent) -> ImageBody {
        let mut body = ImageBody {
            firmware,
            content,
            next: 0,
            pending: None,
        };
        body.read_ahead();
        body
    }

    fn read_ahead(&mut self) {
        let left = self.content.size.saturating_sub(self.next);
        self.pending = (left > 0).then(|| {
            let len = left.min(MAX_CHUNK_BYTES as u64) as u32;
            Box::pin(self.firmware.send(ReadImage {
                content_id: self.content.content_id.clone(),
                offset: self.next,
                len,
            }))
        });
    }

    fn failed(&mut self, why: String) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        tracing::error!(firmware = %self.content.content_id, offset = self.next, error = %why, "firmware download cut short");
        self.pending = None;
        self.next = self.content.size;
        Poll::Ready(Some(Err(std::io::Error::other(why))))
    }
}

impl Stream for ImageBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let read = match pending.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(read) => read,
        };
        match read {
            Ok(Ok(bytes)) if !bytes.is_empty() => {
                self.next += bytes.len() as u64;
                self.read_ahead();
                Poll::Ready(Some(Ok(Bytes::from(bytes))))
            }
            Ok(Ok(_)) => self.failed("the image is shorter than its size".to_owned()),
            Ok(Err(e)) => self.failed(e.to_string()),
            Err(e) => self.failed(e.to_string()),
        }
    }
}
