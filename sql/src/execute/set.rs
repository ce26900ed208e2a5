//! `SET`: system variables (`SET [GLOBAL|SESSION] x = v`, `SET @@x = v`),
//! user variables (`SET @x = v`), `SET NAMES`, `SET TRANSACTION`.

use codec::datum::Datum;
use sqlparser::ast::{
    ContextModifier, Expr, ObjectName, Set, TransactionIsolationLevel, TransactionMode,
};

use crate::error::{Error, Result};
use crate::planner::rewrite;
use crate::session::vars::VarValue;
use crate::session::{Output, Session};

pub async fn execute(session: &mut Session, set: &Set) -> Result<Output> {
    match set {
        Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        } => {
            let value = values.first().ok_or_else(|| Error::parse("near SET"))?;
            assign(session, *scope, variable, value).await?;
        }
        Set::MultipleAssignments { assignments } => {
            for a in assignments {
                assign(session, a.scope, &a.name, &a.value).await?;
            }
        }
        Set::SetNames {
            charset_name,
            collation_name,
        } => {
            let cs = charset_name.value.to_lowercase();
            if !matches!(
                cs.as_str(),
                "utf8mb4" | "utf8" | "utf8mb3" | "latin1" | "binary" | "ascii"
            ) {
                return Err(Error::new(
                    crate::error::code::ER_UNKNOWN,
                    format!("Unknown character set: '{cs}'"),
                ));
            }
            for v in [
                "character_set_client",
                "character_set_connection",
                "character_set_results",
            ] {
                session.vars.set(v, VarValue::Str(cs.clone()))?;
            }
            if let Some(c) = collation_name {
                session.vars.set(
                    "collation_connection",
                    VarValue::Str(c.trim_matches('\'').to_string()),
                )?;
            }
        }
        Set::SetNamesDefault {} => {}
        Set::SetTransaction { modes, .. } => {
            for m in modes {
                match m {
                    TransactionMode::IsolationLevel(level) => {
                        let v = match level {
                            TransactionIsolationLevel::ReadUncommitted => "READ-UNCOMMITTED",
                            TransactionIsolationLevel::ReadCommitted => "READ-COMMITTED",
                            TransactionIsolationLevel::RepeatableRead => "REPEATABLE-READ",
                            TransactionIsolationLevel::Serializable => "SERIALIZABLE",
                            TransactionIsolationLevel::Snapshot => "REPEATABLE-READ",
                        };
                        session
                            .vars
                            .set("transaction_isolation", VarValue::Str(v.into()))?;
                    }
                    TransactionMode::AccessMode(a) => {
                        let ro = matches!(a, sqlparser::ast::TransactionAccessMode::ReadOnly);
                        session
                            .vars
                            .set("transaction_read_only", VarValue::Int(ro as i64))?;
                    }
                }
            }
        }
        other => return Err(Error::unsupported(other)),
    }
    Ok(Output::ok(0))
}

async fn assign(
    session: &mut Session,
    scope: Option<ContextModifier>,
    name: &ObjectName,
    value: &Expr,
) -> Result<()> {
    let target = Expr::CompoundIdentifier(
        name.0
            .iter()
            .filter_map(|p| p.as_ident().cloned())
            .collect(),
    );
    let target = match &target {
        Expr::CompoundIdentifier(parts) if parts.len() == 1 => Expr::Identifier(parts[0].clone()),
        t => t.clone(),
    };
    if let Some(user) = rewrite::user_var(&target) {
        let v = crate::execute::constant::eval_constant(session, value).await?;
        session.user_vars.insert(user, v);
        return Ok(());
    }
    let (var, mut global) = match rewrite::system_var(&target) {
        Some(x) => x,
        None => (name.to_string(), false),
    };
    if scope == Some(ContextModifier::Global) {
        global = true;
    }
    let value = match value {
        // SET x = ON / OFF / DEFAULT / some_identifier
        Expr::Identifier(id) if !id.value.starts_with('@') => {
            if id.value.eq_ignore_ascii_case("default") {
                let v = session.shared.globals.get(&var).unwrap_or(VarValue::Null);
                return set(session, &var, v, global).await;
            }
            VarValue::Str(id.value.clone())
        }
        e => match crate::execute::constant::eval_constant(session, e).await? {
            Datum::Null => VarValue::Null,
            Datum::I64(i) => VarValue::Int(i),
            Datum::U64(u) => VarValue::Int(u as i64),
            Datum::Bytes(b) => VarValue::Str(String::from_utf8_lossy(&b).into_owned()),
            d => VarValue::Str(
                crate::parse::literal(&d)
                    .to_string()
                    .trim_matches('\'')
                    .to_string(),
            ),
        },
    };
    set(session, &var, value, global).await
}

async fn set(session: &mut Session, var: &str, value: VarValue, global: bool) -> Result<()> {
    let lower = var.to_ascii_lowercase();
    if lower == "autocommit" && !global {
        let on = match &value {
            VarValue::Int(i) => *i != 0,
            v => v.as_bool(),
        };
        session.set_var(var, value, false)?;
        // Turning autocommit on commits an open transaction (MySQL).
        if on {
            session.commit_open().await?;
        }
        return Ok(());
    }
    session.set_var(var, value, global)
}
