//! Names as statements write them: `[db.]name`, matched against the
//! catalog case-insensitively ([`crate::catalog`]).

use sqlparser::ast::ObjectName;

use crate::error::{Error, Result};

/// `[db.]name` as (db, name).
pub fn object_name(n: &ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
            .collect();
    match parts.as_slice() {
        [name] => Ok((None, name.clone())),
        [db, name] => Ok((Some(db.clone()), name.clone())),
        _ => Err(Error::parse(format!("near '{n}'"))),
    }
}
