//! The schema model: databases, tables, columns, indexes and their SQL
//! types, as stored (JSON) under the `m` prefix.
//!
//! Ids never get reused: databases, tables and indexes draw from one global
//! allocator (`mNextID`), columns from their table's `next_column_id`. A row
//! stores values by column id (`codec::row`), so `ADD COLUMN` appends a
//! column with a fresh id and old rows simply lack it (read as its default);
//! `DROP COLUMN` removes the column from the model and old rows' values for
//! that id are ignored.

use codec::datum::DatumKind;
use serde::{Deserialize, Serialize};

use crate::protocol::{ColumnType, flags};

pub type DbId = i64;
pub type TableId = i64;
pub type IndexId = i64;
pub type ColumnId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    TinyInt,
    SmallInt,
    MediumInt,
    Int,
    BigInt,
    Decimal,
    Float,
    Double,
    Char,
    VarChar,
    TinyText,
    Text,
    MediumText,
    LongText,
    Binary,
    VarBinary,
    TinyBlob,
    Blob,
    MediumBlob,
    LongBlob,
    Date,
    DateTime,
    Timestamp,
    Time,
    Year,
}

/// A column's type: the SQL type plus its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldType {
    pub tp: SqlType,
    #[serde(default)]
    pub unsigned: bool,
    /// Character length for strings, precision for DECIMAL, display width
    /// for integers (only `TINYINT(1)` shows it).
    #[serde(default)]
    pub length: u32,
    /// DECIMAL scale, or fractional-seconds precision of DATETIME,
    /// TIMESTAMP and TIME.
    #[serde(default)]
    pub scale: u8,
}

impl FieldType {
    pub fn new(tp: SqlType) -> FieldType {
        FieldType {
            tp,
            unsigned: false,
            length: 0,
            scale: 0,
        }
    }

    pub fn is_integer(&self) -> bool {
        use SqlType::*;
        matches!(
            self.tp,
            TinyInt | SmallInt | MediumInt | Int | BigInt | Year
        )
    }

    pub fn is_string(&self) -> bool {
        use SqlType::*;
        matches!(
            self.tp,
            Char | VarChar | TinyText | Text | MediumText | LongText
        )
    }

    pub fn is_binary(&self) -> bool {
        use SqlType::*;
        matches!(
            self.tp,
            Binary | VarBinary | TinyBlob | Blob | MediumBlob | LongBlob
        )
    }

    /// TEXT and BLOB types (no index without a prefix length, no default).
    pub fn is_blob(&self) -> bool {
        use SqlType::*;
        matches!(
            self.tp,
            TinyText | Text | MediumText | LongText | TinyBlob | Blob | MediumBlob | LongBlob
        )
    }

    /// How values of this type are held in a [`codec::datum::Datum`].
    pub fn datum_kind(&self) -> DatumKind {
        use SqlType::*;
        match self.tp {
            TinyInt | SmallInt | MediumInt | Int | BigInt | Year => {
                if self.unsigned {
                    DatumKind::U64
                } else {
                    DatumKind::I64
                }
            }
            Decimal => DatumKind::Decimal,
            Float | Double => DatumKind::F64,
            Char | VarChar | TinyText | Text | MediumText | LongText | Binary | VarBinary
            | TinyBlob | Blob | MediumBlob | LongBlob => DatumKind::Bytes,
            Date => DatumKind::Date,
            DateTime | Timestamp => DatumKind::DateTime,
            Time => DatumKind::Time,
        }
    }

    /// Integer bounds (signed or unsigned) of integer types.
    pub fn int_range(&self) -> (i128, i128) {
        use SqlType::*;
        let bits = match self.tp {
            TinyInt => 8,
            SmallInt => 16,
            MediumInt => 24,
            Int => 32,
            Year => return (1901, 2155),
            _ => 64,
        };
        if self.unsigned {
            (0, (1i128 << bits) - 1)
        } else {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        }
    }

    /// Maximum length in characters (strings) or bytes (binary).
    pub fn max_len(&self) -> usize {
        use SqlType::*;
        match self.tp {
            Char | VarChar | Binary | VarBinary => self.length as usize,
            TinyText | TinyBlob => 255,
            Text | Blob => 65_535,
            MediumText | MediumBlob => 16_777_215,
            LongText | LongBlob => 4_294_967_295,
            _ => usize::MAX,
        }
    }

    /// The wire type and the extra column flags.
    pub fn column_type(&self) -> (ColumnType, u16) {
        use SqlType::*;
        let num = flags::NUM | if self.unsigned { flags::UNSIGNED } else { 0 };
        match self.tp {
            TinyInt => (ColumnType::Tiny, num),
            SmallInt => (ColumnType::Short, num),
            MediumInt => (ColumnType::Int24, num),
            Int => (ColumnType::Long, num),
            BigInt => (ColumnType::LongLong, num),
            Year => (
                ColumnType::Year,
                flags::UNSIGNED | flags::ZEROFILL | flags::NUM,
            ),
            Decimal => (ColumnType::NewDecimal, num),
            Float => (ColumnType::Float, num),
            Double => (ColumnType::Double, num),
            Char | Binary => (
                ColumnType::String,
                if self.tp == Binary { flags::BINARY } else { 0 },
            ),
            VarChar | VarBinary => (
                ColumnType::VarString,
                if self.tp == VarBinary {
                    flags::BINARY
                } else {
                    0
                },
            ),
            TinyText | Text | MediumText | LongText => (ColumnType::Blob, flags::BLOB),
            TinyBlob | Blob | MediumBlob | LongBlob => {
                (ColumnType::Blob, flags::BLOB | flags::BINARY)
            }
            Date => (ColumnType::Date, flags::BINARY),
            DateTime => (ColumnType::DateTime, flags::BINARY),
            Timestamp => (ColumnType::Timestamp, flags::BINARY | flags::TIMESTAMP),
            Time => (ColumnType::Time, flags::BINARY),
        }
    }

    /// `length` in a column definition: bytes a value may print as.
    pub fn display_length(&self) -> u32 {
        use SqlType::*;
        match self.tp {
            TinyInt => 4,
            SmallInt => 6,
            MediumInt => 9,
            Int => 11,
            BigInt => 20,
            Year => 4,
            Decimal => self.length + 2,
            Float => 12,
            Double => 22,
            Char | VarChar => self.length.saturating_mul(4),
            Binary | VarBinary => self.length,
            TinyText | TinyBlob => 255,
            Text | Blob => 65_535,
            MediumText | MediumBlob => 16_777_215,
            LongText | LongBlob => u32::MAX,
            Date => 10,
            DateTime | Timestamp => {
                19 + if self.scale > 0 {
                    self.scale as u32 + 1
                } else {
                    0
                }
            }
            Time => {
                10 + if self.scale > 0 {
                    self.scale as u32 + 1
                } else {
                    0
                }
            }
        }
    }

    /// MySQL 8.0's spelling, for SHOW CREATE TABLE and information_schema.
    pub fn sql(&self) -> String {
        use SqlType::*;
        let base = match self.tp {
            TinyInt if self.length == 1 => "tinyint(1)".to_string(),
            TinyInt => "tinyint".into(),
            SmallInt => "smallint".into(),
            MediumInt => "mediumint".into(),
            Int => "int".into(),
            BigInt => "bigint".into(),
            Year => "year".into(),
            Decimal => format!("decimal({},{})", self.length, self.scale),
            Float => "float".into(),
            Double => "double".into(),
            Char => format!("char({})", self.length),
            VarChar => format!("varchar({})", self.length),
            Binary => format!("binary({})", self.length),
            VarBinary => format!("varbinary({})", self.length),
            TinyText => "tinytext".into(),
            Text => "text".into(),
            MediumText => "mediumtext".into(),
            LongText => "longtext".into(),
            TinyBlob => "tinyblob".into(),
            Blob => "blob".into(),
            MediumBlob => "mediumblob".into(),
            LongBlob => "longblob".into(),
            Date => "date".into(),
            DateTime | Timestamp | Time => {
                let n = match self.tp {
                    DateTime => "datetime",
                    Timestamp => "timestamp",
                    _ => "time",
                };
                if self.scale > 0 {
                    format!("{n}({})", self.scale)
                } else {
                    n.to_string()
                }
            }
        };
        if self.unsigned && self.tp != Year {
            format!("{base} unsigned")
        } else {
            base
        }
    }
}

/// Where an index is on its way in or out (F1's online schema change, as
/// TiDB's `model.SchemaState`). Each step is a schema version, and servers
/// one version apart work together: an index is added
/// DeleteOnly → WriteOnly → WriteReorganization (backfill) → Public, and
/// dropped Public → WriteOnly → DeleteOnly → gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SchemaState {
    /// Visible and maintained by every write.
    #[default]
    Public,
    /// Writes remove entries of rows they delete or change, and write none.
    DeleteOnly,
    /// Writes maintain it fully; reads do not use it.
    WriteOnly,
    /// As WriteOnly, while existing rows' entries are backfilled.
    WriteReorganization,
}

impl SchemaState {
    /// Whether writes put entries in an index in this state.
    pub fn writes(self) -> bool {
        !matches!(self, SchemaState::DeleteOnly)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultValue {
    /// A constant, in its SQL text form (converted to the column type at
    /// insert time, exactly like an inserted literal).
    Literal(String),
    /// `CURRENT_TIMESTAMP[(fsp)]`.
    CurrentTimestamp,
    Null,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub id: ColumnId,
    pub name: String,
    pub ft: FieldType,
    pub nullable: bool,
    #[serde(default)]
    pub default: Option<DefaultValue>,
    #[serde(default)]
    pub auto_increment: bool,
    #[serde(default)]
    pub on_update_now: bool,
    #[serde(default)]
    pub comment: String,
    /// The value rows written before this column was added have for it
    /// (ADD COLUMN needs no rewrite): its default then, or the type's zero
    /// value for a NOT NULL column without one.
    #[serde(default)]
    pub origin_default: Option<String>,
    /// `ALTER COLUMN c DROP DEFAULT` on a nullable column: an insert that
    /// leaves it out fails (1364 in strict mode) instead of writing NULL.
    #[serde(default)]
    pub no_default: bool,
    /// A MODIFY to NOT NULL is checking the rows: writes of NULL are
    /// refused already (1048), reads still allow it (TiDB's
    /// PreventNullInsertFlag).
    #[serde(default)]
    pub not_null_pending: bool,
}

impl ColumnInfo {
    /// Whether a write of NULL to this column is refused.
    pub fn rejects_null(&self) -> bool {
        !self.nullable || self.not_null_pending
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexColumn {
    /// Position of the column in [`TableInfo::columns`] — kept in sync by
    /// DDL, so readers need no name lookups.
    pub name: String,
    /// Prefix length in characters (`KEY (c(10))`), if any.
    #[serde(default)]
    pub length: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    pub id: IndexId,
    pub name: String,
    pub columns: Vec<IndexColumn>,
    pub unique: bool,
    pub primary: bool,
    #[serde(default)]
    pub state: SchemaState,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub id: TableId,
    pub db_id: DbId,
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    pub indexes: Vec<IndexInfo>,
    /// The row key is the integer primary key itself (a single signed or
    /// unsigned integer column): `t{id}_r{pk}`. Otherwise, with a primary
    /// key, the handle is the encoded key values ("clustered" common
    /// handle); without one, a hidden auto-allocated `_tidb_rowid`.
    pub handle: HandleKind,
    pub next_column_id: ColumnId,
    #[serde(default)]
    pub comment: String,
    /// Unix seconds of creation, for information_schema.
    #[serde(default)]
    pub create_time: i64,
    /// Columnar replicas asked for (`SET COLUMNAR REPLICA n`).
    #[serde(default)]
    pub columnar_replica: u64,
    /// A row-converting MODIFY/CHANGE COLUMN under way: the column as it
    /// will be and copies of the indexes over it, outside `columns` and
    /// `indexes` so no read ever sees them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changing: Option<ChangingColumn>,
    /// The column a conversion replaced, on its way out: still written
    /// (write-only) so that a server one schema version behind, which
    /// reads it, finds it in every row, then only deleted from (delete
    /// only), then gone. Outside `columns` and `indexes`, so no read on
    /// this version sees it ([`RemovingColumn`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removing: Option<RemovingColumn>,
}

/// A column whose values are being converted to a new type (TiDB's
/// "changing column", `crate::ddl::convert_column`). Writes keep a hidden
/// copy of the column under a new id, and hidden copies of the indexes
/// over it under new index ids, from the moment `state` writes; at the
/// end the copies take the old ones' places and names, and the old
/// column and indexes leave as the table's `removing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangingColumn {
    /// The column being changed.
    pub old_id: ColumnId,
    /// The column as it will be: a new id, the new type and options, and
    /// its final name (writes meanwhile go by the old column's name).
    pub column: ColumnInfo,
    /// Where the copy is (F1's states, as an index being added): the
    /// copies of the indexes are in it too.
    pub state: SchemaState,
    /// Copies of the indexes over the old column, each under a new id and
    /// with the old one's name and columns (those name the old column).
    pub indexes: Vec<ChangingIndex>,
}

/// The old column of a finished conversion on its way out (TiDB keeps
/// the changing column's counterpart the same way): a [`ChangingColumn`]
/// seen from the other side. `old_id` is the public column it follows
/// (the converted one, whose values writes convert back), `column` the
/// old column as it was (its id, type and name), `state` WriteOnly then
/// DeleteOnly, and each of `indexes` an old index (`index`, with its old
/// id and columns) beside the public index that replaced it (`old_id`).
pub type RemovingColumn = ChangingColumn;

/// An index over a changing column, and its copy over the new values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangingIndex {
    pub old_id: IndexId,
    pub index: IndexInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandleKind {
    /// The integer primary key column at this position.
    IntPk(usize),
    /// A composite or non-integer primary key (the index flagged primary).
    Common,
    /// No primary key: a hidden row id.
    RowId,
}

impl TableInfo {
    /// Re-derives the integer-handle column's position after columns moved.
    pub fn fix_handle_position(&mut self) {
        if let HandleKind::IntPk(_) = self.handle
            && let Some(pk) = self.primary()
            && let Some((i, _)) = self.column(&pk.columns[0].name.clone())
        {
            self.handle = HandleKind::IntPk(i);
        }
    }

    pub fn column(&self, name: &str) -> Option<(usize, &ColumnInfo)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }

    pub fn index(&self, name: &str) -> Option<&IndexInfo> {
        self.indexes
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    pub fn primary(&self) -> Option<&IndexInfo> {
        self.indexes.iter().find(|i| i.primary)
    }

    /// Positions of an index's columns in `columns`.
    pub fn index_offsets(&self, index: &IndexInfo) -> Vec<usize> {
        index
            .columns
            .iter()
            .map(|c| {
                self.column(&c.name)
                    .map(|(i, _)| i)
                    .expect("index column exists")
            })
            .collect()
    }

    pub fn auto_increment_column(&self) -> Option<usize> {
        self.columns.iter().position(|c| c.auto_increment)
    }

    /// A column's key membership as `SHOW COLUMNS` and
    /// `information_schema.COLUMNS` show it: `PRI`, `UNI`, `MUL` or empty.
    pub fn column_key(&self, offset: usize) -> &'static str {
        let f = self.column_flags(offset);
        if f & flags::PRI_KEY != 0 {
            "PRI"
        } else if f & flags::UNIQUE_KEY != 0 {
            "UNI"
        } else if f & flags::MULTIPLE_KEY != 0 {
            "MUL"
        } else {
            ""
        }
    }

    /// Wire flags of a column (key membership, NOT NULL, AUTO_INCREMENT).
    pub fn column_flags(&self, offset: usize) -> u16 {
        let c = &self.columns[offset];
        let (_, mut f) = c.ft.column_type();
        if !c.nullable {
            f |= flags::NOT_NULL;
        }
        if c.auto_increment {
            f |= flags::AUTO_INCREMENT;
        }
        if c.default.is_none() && !c.auto_increment && !c.nullable {
            f |= flags::NO_DEFAULT_VALUE;
        }
        if c.on_update_now {
            f |= flags::ON_UPDATE_NOW;
        }
        for idx in &self.indexes {
            if idx.state != SchemaState::Public {
                continue;
            }
            match idx
                .columns
                .iter()
                .position(|ic| ic.name.eq_ignore_ascii_case(&c.name))
            {
                Some(0) if idx.primary => f |= flags::PRI_KEY,
                Some(0) if idx.unique && idx.columns.len() == 1 => f |= flags::UNIQUE_KEY,
                Some(0) => f |= flags::MULTIPLE_KEY,
                Some(_) if idx.primary => f |= flags::PRI_KEY,
                _ => {}
            }
        }
        f
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInfo {
    pub id: DbId,
    pub name: String,
    #[serde(default = "default_charset")]
    pub charset: String,
    #[serde(default = "default_collation")]
    pub collation: String,
}

fn default_charset() -> String {
    "utf8mb4".into()
}

fn default_collation() -> String {
    "utf8mb4_bin".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub user: String,
    pub host: String,
    pub password: crate::protocol::auth::PasswordHashes,
    #[serde(default)]
    pub plugin: String,
}
