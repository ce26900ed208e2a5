//! The function registry pushed-down expressions are decoded against.
//!
//! A filter or plan travels as `datafusion-proto` bytes that name their
//! functions; whoever decodes them looks the names up here. The registry
//! holds DataFusion's built-in functions, MySQL's from [`mysql`], as the
//! SQL layer plans with, and the runtime filters' [`bloom`], so a
//! serialized expression decodes to the same functions on every store
//! and in the SQL layer.

use std::sync::{Arc, OnceLock};

use datafusion::execution::TaskContext;
use datafusion::prelude::SessionContext;

use crate::{bloom, mysql};

/// The registry (and the context plans run in), built once per process.
pub(crate) fn task_ctx() -> &'static Arc<TaskContext> {
    static CTX: OnceLock<Arc<TaskContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        let ctx = SessionContext::new();
        for f in mysql::functions() {
            ctx.register_udf(f.as_ref().clone());
        }
        ctx.register_udf(bloom::udf().as_ref().clone());
        ctx.task_ctx()
    })
}
