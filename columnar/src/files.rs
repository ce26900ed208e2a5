//! # Chunk files and the manifest
//!
//! The stable layer lives in one directory:
//!
//! ```text
//!   {dir}/MANIFEST          JSON: applied_seq, next_chunk, table -> chunk ids
//!   {dir}/{chunk_id}.arrow  one chunk, an Arrow IPC file
//! ```
//!
//! A compaction writes its new chunk files (fsync'd), then replaces the
//! manifest atomically (write `MANIFEST.tmp`, fsync, rename, fsync the
//! directory), then deletes the files no manifest lists, and only then
//! truncates the apply log up to the manifest's `applied_seq`. A crash at
//! any point leaves a manifest whose chunks exist and an apply log that
//! still holds every record after its `applied_seq`, so a restart loads the
//! chunks and replays the log: nothing is copied again from the leaders.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codec::table::TableId;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use serde::{Deserialize, Serialize};

use crate::stable::{Chunk, StableTable};
use crate::{Error, Result};

const MANIFEST: &str = "MANIFEST";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every apply log record up to here is in the chunks.
    pub applied_seq: u64,
    /// Chunk ids are never reused.
    pub next_chunk: u64,
    pub tables: BTreeMap<TableId, Vec<u64>>,
}

pub struct Files {
    dir: PathBuf,
}

fn io(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{what} {}: {e}", path.display()))
}

impl Files {
    pub fn open(dir: &Path) -> Result<Files> {
        std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        Ok(Files {
            dir: dir.to_path_buf(),
        })
    }

    fn chunk_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.arrow"))
    }

    /// The manifest and the chunks it lists (an empty store if none).
    pub fn load(&self) -> Result<(Manifest, HashMap<TableId, StableTable>)> {
        let path = self.dir.join(MANIFEST);
        let manifest: Manifest = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| io("parse", &path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(io("read", &path, e)),
        };
        let mut tables = HashMap::new();
        for (table, ids) in &manifest.tables {
            let mut chunks = Vec::with_capacity(ids.len());
            for &id in ids {
                chunks.push(Arc::new(self.read_chunk(id)?));
            }
            tables.insert(*table, StableTable { chunks });
        }
        Ok((manifest, tables))
    }

    fn read_chunk(&self, id: u64) -> Result<Chunk> {
        let path = self.chunk_path(id);
        let file = File::open(&path).map_err(|e| io("open", &path, e))?;
        let reader = FileReader::try_new(file, None).map_err(|e| io("read", &path, e))?;
        let schema = reader.schema();
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| io("read", &path, e))?;
        let batch = datafusion::arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| io("read", &path, e))?;
        Chunk::from_batch(id, batch)
    }

    /// Writes a chunk's file (fsync'd) unless it exists already.
    pub fn write_chunk(&self, chunk: &Chunk) -> Result<()> {
        let path = self.chunk_path(chunk.id);
        if path.exists() {
            return Ok(());
        }
        let tmp = self.dir.join(format!("{}.arrow.tmp", chunk.id));
        let file = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        let mut w =
            FileWriter::try_new(file, &chunk.batch().schema()).map_err(|e| io("write", &tmp, e))?;
        w.write(chunk.batch()).map_err(|e| io("write", &tmp, e))?;
        w.finish().map_err(|e| io("write", &tmp, e))?;
        let file = w.into_inner().map_err(|e| io("write", &tmp, e))?;
        file.sync_all().map_err(|e| io("sync", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("rename", &tmp, e))?;
        Ok(())
    }

    /// Makes `manifest` the current one, atomically, then deletes the chunk
    /// files it does not list.
    pub fn commit(&self, manifest: &Manifest) -> Result<()> {
        let tmp = self.dir.join("MANIFEST.tmp");
        let path = self.dir.join(MANIFEST);
        let bytes = serde_json::to_vec(manifest).map_err(|e| io("encode", &path, e))?;
        let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        f.write_all(&bytes).map_err(|e| io("write", &tmp, e))?;
        f.sync_all().map_err(|e| io("sync", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("rename", &tmp, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync", &self.dir, e))?;
        let listed: std::collections::HashSet<u64> =
            manifest.tables.values().flatten().copied().collect();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| io("list", &self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let id = name
                .strip_suffix(".arrow")
                .or_else(|| name.strip_suffix(".arrow.tmp"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(id) = id
                && !listed.contains(&id)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}
