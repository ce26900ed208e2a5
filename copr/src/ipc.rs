//! Record batches as the bytes a coprocessor answer carries: an Arrow IPC
//! stream. A row store writes the rows a [`Fragment`](crate::Fragment)
//! kept with [`encode_batches`]; the client reads them back with
//! [`decode_batches`]. (Columnar stores answer over Arrow Flight instead,
//! which frames batches itself.)

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;

use crate::error::{Error, Result, df};

/// Batches as an Arrow IPC stream (empty for no batches).
pub fn encode_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(Vec::new());
    }
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, schema).map_err(df)?;
        for b in batches.iter().filter(|b| b.num_rows() > 0) {
            w.write(b).map_err(df)?;
        }
        w.finish().map_err(df)?;
    }
    Ok(buf)
}

/// The batches of an Arrow IPC stream written by [`encode_batches`].
pub fn decode_batches(data: &[u8]) -> Result<Vec<RecordBatch>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let reader = StreamReader::try_new(std::io::Cursor::new(data), None)
        .map_err(|e| Error::BadFormat(format!("coprocessor answer: {e}")))?;
    reader
        .map(|b| b.map_err(|e| Error::BadFormat(format!("coprocessor answer: {e}"))))
        .collect()
}
