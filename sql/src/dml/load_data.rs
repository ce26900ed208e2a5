//! LOAD DATA LOCAL INFILE: the connection reads the file from the client
//! ([`crate::session::Output::LocalInfile`]); this inserts its rows.
//!
//! Not wired yet: the statement is refused before the client is asked for
//! a file, so this entry point only reports that.

use crate::error::{Error, Result};
use crate::session::{LocalInfile, Output, Session};

pub async fn finish(_session: &mut Session, _req: LocalInfile, _data: Vec<u8>) -> Result<Output> {
    Err(Error::unsupported("LOAD DATA LOCAL INFILE"))
}
