//! Firmware image bytes through the module's messages: an upload cut off mid-body and one
//! that runs past the limit without announcing its size leave no temporary file and no
//! image, and a download of an image several chunks long streams exactly its bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::firmware::upload;
use crate::support::http::{api, metric, provision};
use crate::support::server::ADMIN_TOKEN;
use crate::support::{eventually, Server};

/// `MAX_CHUNK_BYTES` of the contracts: the size of one upload or read message.
const CHUNK: usize = 256 * 1024;

/// Bytes in each file of the firmware folder's `tmp/`.
fn staged(server: &Server) -> Vec<u64> {
    files_in(&server.data_dir.join("firmware/tmp"))
}

fn files_in(dir: &Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .expect("firmware folder")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .collect()
}

/// A raw HTTP/1.1 upload request, its head only: the test writes the body itself.
fn upload_head(server: &Server, version: &str, length: Option<usize>) -> TcpStream {
    let mut socket = TcpStream::connect(("127.0.0.1", server.http_port)).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let framing = match length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_owned(),
    };
    write!(
        socket,
        "POST /api/v1/firmware?version={version} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/octet-stream\r\n\
         {framing}\r\nConnection: close\r\n\r\n"
    )
    .expect("request head");
    socket
}

fn images(server: &Server) -> Value {
    let (status, list) = api(server).get("/api/v1/firmware");
    assert_eq!(status, 200, "{list}");
    list["items"].clone()
}

#[test]
fn an_upload_cut_off_mid_body_leaves_no_file_and_no_image() {
    let server = Server::start();
    let mut socket = upload_head(&server, "7.0.0", Some(2_000_000));
    // Three chunks' worth: at least two reach the module's temporary file.
    socket.write_all(&vec![7u8; 3 * CHUNK]).expect("body");
    let written = eventually(Duration::from_secs(10), "chunks in tmp/", || {
        staged(&server)
            .first()
            .copied()
            .filter(|n| *n >= 2 * CHUNK as u64)
    });
    assert!(written <= 3 * CHUNK as u64);
    drop(socket);

    eventually(Duration::from_secs(10), "the upload's file removed", || {
        staged(&server).is_empty().then_some(())
    });
    assert_eq!(images(&server), json!([]), "no image from a cut-off upload");
    assert!(files_in(&server.data_dir.join("firmware/images")).is_empty());
    assert_eq!(
        metric(
            &server,
            "plantd_firmware_uploads_dropped_total",
            "reason=\"aborted\""
        ),
        1.0
    );
    // The module is not left with a slot taken: a whole upload still works.
    let (status, fw) = upload(&server, "7.0.0", &[1u8; 1000]);
    assert_eq!(status, 201, "{fw}");
}

#[test]
fn an_undeclared_upload_past_the_limit_is_refused_by_the_module() {
    let server = Server::start_with(&[("PLANTD_FIRMWARE_MAX_UPLOAD_BYTES", "300000")]);
    let mut socket = upload_head(&server, "8.0.0", None);
    // One chunk under the limit is written, the rest takes the image one byte past it.
    for piece in vec![8u8; 300_001].chunks(100_000) {
        write!(socket, "{:x}\r\n", piece.len()).expect("chunk size");
        socket.write_all(piece).expect("chunk");
        socket.write_all(b"\r\n").expect("chunk end");
    }
    socket.write_all(b"0\r\n\r\n").expect("last chunk");
    let mut response = String::new();
    socket.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("limited to 300000 bytes"),
        "the problem names the limit: {response}"
    );

    eventually(Duration::from_secs(10), "the upload's file removed", || {
        staged(&server).is_empty().then_some(())
    });
    assert_eq!(images(&server), json!([]));
    assert!(files_in(&server.data_dir.join("firmware/images")).is_empty());
    assert_eq!(
        metric(
            &server,
            "plantd_firmware_uploads_dropped_total",
            "reason=\"too_large\""
        ),
        1.0
    );
}

#[test]
fn a_download_of_several_chunks_streams_exactly_the_image() {
    let server = Server::start();
    // Three whole chunks and a ragged end, bytes that differ from chunk to chunk.
    let image: Vec<u8> = (0..3 * CHUNK as u32 + 12_345)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let digest = hex::encode(Sha256::digest(&image));
    let (status, fw) = upload(&server, "6.1.0", &image);
    assert_eq!(status, 201, "{fw}");
    assert_eq!(fw["sha256"], digest.as_str());
    assert_eq!(fw["size"], image.len());
    let stored = std::fs::read(server.data_dir.join(format!(
        "firmware/images/{}.bin",
        fw["id"].as_str().expect("id")
    )))
    .expect("the module's image file");
    assert!(stored == image, "the stored file is the upload");
    assert!(staged(&server).is_empty(), "nothing left in tmp/");

    let password = provision(&server, "fw-big");
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ["fw-big"] }),
    );
    assert_eq!(status, 201, "{started}");
    let url = server.url(&format!(
        "/api/v1/firmware/{}/image",
        fw["id"].as_str().expect("id")
    ));
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("fw-big:{password}"));
    let response = ureq::get(&url)
        .timeout(Duration::from_secs(30))
        .set("Authorization", &format!("Basic {auth}"))
        .call()
        .expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("content-length"),
        Some(image.len().to_string().as_str())
    );
    assert_eq!(response.header("x-checksum-sha256"), Some(digest.as_str()));
    let mut bytes = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut bytes)
        .expect("body");
    assert_eq!(bytes.len(), image.len());
    assert_eq!(hex::encode(Sha256::digest(&bytes)), digest);
    assert!(bytes == image, "the same bytes in the same order");
}
