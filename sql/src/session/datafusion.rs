//! A connection's DataFusion session.
//!
//! The planner ([`crate::planner::query_context`]) configures it once per
//! connection — MySQL semantics rules, duet's functions, the optimizer
//! settings — and each statement borrows its state ([`QueryContext::lend`]):
//! cloning a `SessionState` copies every function registry, which costs
//! more than planning a small query. The session keeps it so the planner
//! finds it; nothing here knows what the rules are.

use std::sync::{Arc, Mutex};

use datafusion::execution::TaskContext;
use datafusion::execution::context::{SessionContext, SessionState};

pub struct QueryContext {
    ctx: SessionContext,
    state: Mutex<Option<SessionState>>,
    task: Arc<TaskContext>,
}

/// A session state lent to one statement; it goes back to its
/// [`QueryContext`] when dropped.
pub struct Lent<'a> {
    state: Option<SessionState>,
    home: &'a Mutex<Option<SessionState>>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = SessionState;
    fn deref(&self) -> &SessionState {
        self.state.as_ref().expect("lent until dropped")
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        self.state.as_mut().expect("lent until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        *self.home.lock().unwrap_or_else(|e| e.into_inner()) = self.state.take();
    }
}

impl QueryContext {
    pub fn new(ctx: SessionContext) -> QueryContext {
        let state = ctx.state();
        let task = Arc::new(TaskContext::from(&state));
        QueryContext {
            ctx,
            state: Mutex::new(Some(state)),
            task,
        }
    }

    /// The session state for one statement, with `db` as the default
    /// schema. A statement running while another holds the state (not
    /// done by one connection, but harmless) gets a copy.
    pub fn lend(&self, db: Option<&str>) -> Lent<'_> {
        let lent = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut state = lent.unwrap_or_else(|| self.ctx.state());
        let schema = db.unwrap_or("").to_lowercase();
        if state.config().options().catalog.default_schema != schema {
            state.config_mut().options_mut().catalog.default_schema = schema;
        }
        Lent {
            state: Some(state),
            home: &self.state,
        }
    }

    /// What running a physical plan needs.
    pub fn task(&self) -> Arc<TaskContext> {
        self.task.clone()
    }
}
