//! Bloom filters over join keys: the form a hash join's build-side keys
//! take on their way to the probe side's stores when they are too many for
//! an IN list.
//!
//! A store that gets `l_orderkey IN (227,597 keys)` as a list decodes and
//! plans every literal for every region it serves; the same keys as a Bloom
//! filter are one binary literal, and testing a row costs a hash and one
//! word. A Bloom filter keeps every key it was built from and, at the
//! sizes chosen here, about one in two hundred of the others, which the
//! join above (it checks every row it gets) then drops.
//!
//! The filter travels as the call `duet_bloom(key, <list>)` ([`udf`]),
//! registered by the stores' function registry only: users cannot call it.
//! Its literal ([`KeyBloom::to_scalar`]) is one list of 64-bit words, so
//! that every batch a store tests reads it where it lies (a list value is
//! shared, not copied, as the literal is evaluated):
//!
//! ```text
//!   [ version | kind << 8 | scale << 16 | keys << 32,  word, word, ... ]
//! ```
//!
//! `kind` says how a value is hashed: integers (signed and unsigned, and
//! dates, widened to 64 bits), strings and binary strings (their bytes),
//! decimals (their 128-bit value at `scale`). A row whose key is of
//! another kind than the filter's passes: a filter that cannot decide
//! keeps the row, it never drops one that can join. A NULL key never
//! joins, so it never passes.
//!
//! The blocked layout (all of a key's bits in one 64-bit word, at 16 to
//! 32 bits a key, 4 bits set) follows the split-block filters of Impala and
//! Parquet, scaled down to one word.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder};
use datafusion::arrow::array::{ListArray, UInt64Array};
use datafusion::arrow::buffer::{BooleanBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::Field;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const VERSION: u8 = 2;
/// Bits per key before rounding the word count up to a power of two.
const BITS_PER_KEY: usize = 16;

/// How a key is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int = 1,
    Bytes = 2,
    Decimal = 3,
}

/// The kind of the values of `t` (and a decimal's scale), if they can be
/// hashed.
fn kind_of(t: &DataType) -> Option<(Kind, i8)> {
    use DataType::*;
    Some(match t {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Date32 => (Kind::Int, 0),
        Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView => (Kind::Bytes, 0),
        Decimal128(_, s) => (Kind::Decimal, *s),
        _ => return None,
    })
}

/// The finalizer of MurmurHash3: every input bit reaches every output bit.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn hash_int(v: u64) -> u64 {
    mix(v ^ 0x9e37_79b9_7f4a_7c15)
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h ^ mix(w))
            .rotate_left(27)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(h ^ u64::from_le_bytes(last))
}

fn hash_decimal(v: i128) -> u64 {
    mix(hash_int(v as u64) ^ (v >> 64) as u64)
}

/// The words of a filter for `keys` keys.
fn words_for(keys: usize) -> usize {
    (keys * BITS_PER_KEY)
        .div_ceil(64)
        .max(1)
        .next_power_of_two()
}

/// The word a hash falls in and the bits it sets there.
fn slot(h: u64, words: usize) -> (usize, u64) {
    let word = (h >> 32) as usize & (words - 1);
    let mask = (1u64 << (h & 63))
        | (1u64 << ((h >> 6) & 63))
        | (1u64 << ((h >> 12) & 63))
        | (1u64 << ((h >> 18) & 63));
    (word, mask)
}

/// A Bloom filter over the keys of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyBloom {
    kind: Kind,
    scale: i8,
    keys: u32,
    words: ScalarBuffer<u64>,
}

impl KeyBloom {
    /// A filter holding `keys` (NULLs are left out: they never join), or
    /// None when keys of this type cannot be hashed.
    pub fn from_values<'a>(
        data_type: &DataType,
        keys: impl ExactSizeIterator<Item = &'a ScalarValue>,
    ) -> Option<KeyBloom> {
        let array = ScalarValue::iter_to_array(keys.cloned()).ok()?;
        // Values of another kind than the column's could not be tested
        // against it: no filter.
        if kind_of(array.data_type())? != kind_of(data_type)? {
            return None;
        }
        KeyBloom::from_arrays(&[array])
    }

    /// How many distinct keys it holds: the keys that changed it when
    /// added (a repeated key does not; a rare new one may not either).
    pub fn keys(&self) -> u32 {
        self.keys
    }

    /// The filter as the literal it travels as.
    pub fn to_scalar(&self) -> ScalarValue {
        let header = u64::from(VERSION)
            | (self.kind as u64) << 8
            | u64::from(self.scale as u8) << 16
            | u64::from(self.keys) << 32;
        let mut words = Vec::with_capacity(self.words.len() + 1);
        words.push(header);
        words.extend_from_slice(&self.words);
        let values = UInt64Array::from(words);
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::UInt64, true)),
            OffsetBuffer::from_lengths([values.len()]),
            Arc::new(values),
            None,
        );
        ScalarValue::List(Arc::new(list))
    }

    /// The filter a [`KeyBloom::to_scalar`] literal holds (its words
    /// shared with the literal, not copied).
    pub fn from_scalar(v: &ScalarValue) -> Result<KeyBloom> {
        let ScalarValue::List(list) = v else {
            return exec_err!("{NAME}: the filter must be a list literal, not {v}");
        };
        if list.len() != 1 || list.is_null(0) {
            return exec_err!("{NAME}: the filter must be one list");
        }
        let value = list.value(0);
        let Some(words) = value.as_primitive_opt::<UInt64Type>() else {
            return exec_err!("{NAME}: the filter's words must be UInt64");
        };
        if words.null_count() > 0 || words.len() < 2 {
            return exec_err!("{NAME}: not a key filter ({} words)", words.len());
        }
        let header = words.value(0);
        let kind = match (header >> 8) as u8 {
            1 => Kind::Int,
            2 => Kind::Bytes,
            3 => Kind::Decimal,
            k => return exec_err!("{NAME}: unknown key kind {k}"),
        };
        let bits = words.values().slice(1, words.len() - 1);
        if header as u8 != VERSION || !bits.len().is_power_of_two() {
            return exec_err!("{NAME}: not a key filter of version {VERSION}");
        }
        Ok(KeyBloom {
            kind,
            scale: (header >> 16) as u8 as i8,
            keys: (header >> 32) as u32,
            words: bits,
        })
    }

    fn has(&self, h: u64) -> bool {
        let (w, mask) = slot(h, self.words.len());
        self.words[w] & mask == mask
    }

    /// A filter holding the values of `arrays` (of one type; NULLs left
    /// out), or None when values of that type cannot be hashed.
    pub fn from_arrays(arrays: &[ArrayRef]) -> Option<KeyBloom> {
        let t = arrays.first()?.data_type();
        let (kind, scale) = kind_of(t)?;
        if arrays.iter().any(|a| a.data_type() != t) {
            return None;
        }
        let rows: usize = arrays.iter().map(|a| a.len() - a.null_count()).sum();
        let words = words_for(rows);
        let mut bits = vec![0u64; words];
        let mut distinct = 0u32;
        for a in arrays {
            for_each_hash(a, |h| {
                if let Some(h) = h {
                    let (w, mask) = slot(h, words);
                    if bits[w] & mask != mask {
                        bits[w] |= mask;
                        distinct = distinct.saturating_add(1);
                    }
                }
            });
        }
        // Sized for every row; with fewer distinct keys, fold it down (a
        // hash's word is its low bits of index, so the halves OR together).
        let fit = words_for(distinct as usize);
        while bits.len() > fit {
            let half = bits.len() / 2;
            let (low, high) = bits.split_at_mut(half);
            low.iter_mut().zip(high.iter()).for_each(|(l, h)| *l |= h);
            bits.truncate(half);
        }
        Some(KeyBloom {
            kind,
            scale,
            keys: distinct,
            words: bits.into(),
        })
    }

    /// For each value of `keys`: whether it may be one of the filter's
    /// (never NULL; a NULL key is not).
    pub fn test(&self, keys: &ArrayRef) -> BooleanArray {
        let same_kind =
            kind_of(keys.data_type()).is_some_and(|(k, s)| k == self.kind && s == self.scale);
        if !same_kind {
            return BooleanArray::from(vec![true; keys.len()]);
        }
        use DataType::*;
        let found = match keys.data_type() {
            Int32 => self.test_ints(keys.as_primitive::<Int32Type>().values(), |x| x as u64),
            Int64 => self.test_ints(keys.as_primitive::<Int64Type>().values(), |x| x as u64),
            _ => {
                let mut out = BooleanBufferBuilder::new(keys.len());
                for_each_hash(keys, |h| out.append(h.is_some_and(|h| self.has(h))));
                return BooleanArray::new(out.finish(), None);
            }
        };
        // A NULL key is not in the filter.
        match keys.nulls() {
            Some(valid) => BooleanArray::new(&found & valid.inner(), None),
            None => BooleanArray::new(found, None),
        }
    }

    /// [`KeyBloom::test`] of integer keys (NULL slots included). A run of
    /// equal keys (a table sorted by them: lineitem by l_orderkey) is
    /// looked up once.
    fn test_ints<T: Copy + PartialEq>(
        &self,
        values: &[T],
        widen: impl Fn(T) -> u64,
    ) -> BooleanBuffer {
        let mut last: Option<(T, bool)> = None;
        BooleanBuffer::collect_bool(values.len(), |i| {
            let v = values[i];
            if let Some((prev, found)) = last
                && prev == v
            {
                return found;
            }
            let found = self.has(hash_int(widen(v)));
            last = Some((v, found));
            found
        })
    }
}

/// Calls `f` with the hash of each value of `a` in order (None: NULL). Of
/// a type [`kind_of`] has no kind for, every value is None.
fn for_each_hash(a: &ArrayRef, mut f: impl FnMut(Option<u64>)) {
    fn ints<T: ArrowPrimitiveType>(
        a: &ArrayRef,
        as_u64: impl Fn(T::Native) -> u64,
        f: &mut impl FnMut(Option<u64>),
    ) {
        let a = a.as_primitive::<T>();
        let values = a.values();
        match a.nulls() {
            None => values.iter().for_each(|&v| f(Some(hash_int(as_u64(v))))),
            Some(n) => (0..a.len()).for_each(|i| {
                f(n.is_valid(i).then(|| hash_int(as_u64(values[i]))));
            }),
        }
    }
    fn bytes<'a>(values: impl Iterator<Item = Option<&'a [u8]>>, f: &mut impl FnMut(Option<u64>)) {
        values.for_each(|v| f(v.map(hash_bytes)));
    }
    use DataType::*;
    match a.data_type() {
        Int8 => ints::<Int8Type>(a, |x| x as i64 as u64, &mut f),
        Int16 => ints::<Int16Type>(a, |x| x as i64 as u64, &mut f),
        Int32 => ints::<Int32Type>(a, |x| x as i64 as u64, &mut f),
        Date32 => ints::<Date32Type>(a, |x| x as i64 as u64, &mut f),
        Int64 => ints::<Int64Type>(a, |x| x as u64, &mut f),
        UInt8 => ints::<UInt8Type>(a, u64::from, &mut f),
        UInt16 => ints::<UInt16Type>(a, u64::from, &mut f),
        UInt32 => ints::<UInt32Type>(a, u64::from, &mut f),
        UInt64 => ints::<UInt64Type>(a, |x| x, &mut f),
        Decimal128(..) => a
            .as_primitive::<Decimal128Type>()
            .iter()
            .for_each(|v| f(v.map(hash_decimal))),
        Utf8 => bytes(
            a.as_string::<i32>().iter().map(|v| v.map(str::as_bytes)),
            &mut f,
        ),
        LargeUtf8 => bytes(
            a.as_string::<i64>().iter().map(|v| v.map(str::as_bytes)),
            &mut f,
        ),
        Utf8View => bytes(
            a.as_string_view().iter().map(|v| v.map(str::as_bytes)),
            &mut f,
        ),
        Binary => bytes(a.as_binary::<i32>().iter(), &mut f),
        LargeBinary => bytes(a.as_binary::<i64>().iter(), &mut f),
        BinaryView => bytes(a.as_binary_view().iter(), &mut f),
        _ => (0..a.len()).for_each(|_| f(None)),
    }
}

/// `duet_bloom(key, filter)`: whether `key` may be one of the filter's keys.
pub fn udf() -> Arc<ScalarUDF> {
    static F: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    F.get_or_init(|| {
        Arc::new(ScalarUDF::from(BloomUdf {
            signature: Signature::any(2, Volatility::Immutable),
        }))
    })
    .clone()
}

/// `key` tested against `bloom`, as a filter to push.
pub fn filter(key: Expr, bloom: &KeyBloom) -> Expr {
    udf().call(vec![key, Expr::Literal(bloom.to_scalar(), None)])
}

/// The key expression and the filter's literal of a `duet_bloom` call,
/// if `e` is one.
fn parts(e: &Expr) -> Option<(&Expr, &ScalarValue)> {
    let Expr::ScalarFunction(f) = e else {
        return None;
    };
    if f.func.name() != NAME {
        return None;
    }
    match f.args.as_slice() {
        [key, Expr::Literal(v, _)] => Some((key, v)),
        _ => None,
    }
}

/// The key expression of a `duet_bloom` call, if `e` is one.
pub fn key_of(e: &Expr) -> Option<&Expr> {
    parts(e).map(|(key, _)| key)
}

/// The key expression and the filter of a `duet_bloom` call, if `e` is one.
pub fn as_filter(e: &Expr) -> Option<(&Expr, KeyBloom)> {
    let (key, b) = parts(e)?;
    Some((key, KeyBloom::from_scalar(b).ok()?))
}

const NAME: &str = "duet_bloom";

#[derive(Debug, PartialEq, Eq, Hash)]
struct BloomUdf {
    signature: Signature,
}

impl ScalarUDFImpl for BloomUdf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [key, filter] = take_function_args(NAME, args.args)?;
        let ColumnarValue::Scalar(filter) = filter else {
            return exec_err!("{NAME}: the filter must be a literal");
        };
        let bloom = KeyBloom::from_scalar(&filter)?;
        let scalar = matches!(key, ColumnarValue::Scalar(_));
        let keys = key.into_array(if scalar { 1 } else { args.number_rows })?;
        let out = bloom.test(&keys);
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(out.value(0))))
        } else {
            ColumnarValue::Array(Arc::new(out))
        })
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Decimal128Array, Int32Array, Int64Array, StringArray};

    use super::*;

    #[test]
    fn every_key_passes_most_others_do_not_and_nulls_never() {
        let keys: Vec<ScalarValue> = (0..20_000i64)
            .map(|k| ScalarValue::Int64(Some(k * 7)))
            .chain([ScalarValue::Int64(None)])
            .collect();
        let bloom = KeyBloom::from_values(&DataType::Int64, keys.iter()).unwrap();
        assert!(
            (19_900..=20_000).contains(&bloom.keys()),
            "{}",
            bloom.keys()
        );
        let back = KeyBloom::from_scalar(&bloom.to_scalar()).unwrap();
        assert_eq!(back, bloom);

        let members: ArrayRef = Arc::new(Int64Array::from_iter_values((0..20_000).map(|k| k * 7)));
        assert_eq!(back.test(&members).true_count(), 20_000);
        // Narrower integers of the same values hash alike.
        let narrow: ArrayRef = Arc::new(Int32Array::from_iter_values((0..1000).map(|k| k * 7)));
        assert_eq!(back.test(&narrow).true_count(), 1000);

        let others: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..100_000).map(|k| 1_000_000 + k * 7),
        ));
        let false_positives = back.test(&others).true_count();
        assert!(false_positives < 2_000, "{false_positives} of 100000");

        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![None, Some(7)]));
        let out = back.test(&nulls);
        assert_eq!(
            (out.value(0), out.value(1), out.null_count()),
            (false, true, 0)
        );

        // Built from arrays (a join's build side) it is the same filter.
        let halves: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values((0..10_000).map(|k| k * 7))),
            Arc::new(Int64Array::from_iter(
                (10_000..20_000).map(|k| Some(k * 7)).chain([None]),
            )),
        ];
        assert_eq!(KeyBloom::from_arrays(&halves), Some(bloom.clone()));
        // Repeated keys: the same keys, the same (folded down) filter.
        let repeated: Vec<ArrayRef> = (0..4).flat_map(|_| halves.clone()).collect();
        let folded = KeyBloom::from_arrays(&repeated).unwrap();
        assert_eq!(folded.words, bloom.words);
        assert!(
            (19_900..=20_000).contains(&folded.keys()),
            "{}",
            folded.keys()
        );
    }

    #[test]
    fn strings_and_decimals_hash_by_value_and_another_kind_passes() {
        let words = ["ALGERIA", "ARGENTINA", "BRAZIL", ""];
        let keys: Vec<ScalarValue> = words.iter().map(|w| ScalarValue::from(*w)).collect();
        let bloom = KeyBloom::from_values(&DataType::Utf8, keys.iter()).unwrap();
        let probe: ArrayRef = Arc::new(StringArray::from(vec!["BRAZIL", "", "ALGERIA"]));
        assert_eq!(bloom.test(&probe).true_count(), 3);

        let prices = [ScalarValue::Decimal128(Some(1999), 15, 2)];
        let bloom = KeyBloom::from_values(&DataType::Decimal128(15, 2), prices.iter()).unwrap();
        let probe: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1999])
                .with_precision_and_scale(15, 2)
                .unwrap(),
        );
        assert_eq!(bloom.test(&probe).true_count(), 1);
        // The same digits at another scale are another number: the filter
        // cannot tell, so it keeps the row.
        let other_scale: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1, 2])
                .with_precision_and_scale(15, 3)
                .unwrap(),
        );
        assert_eq!(bloom.test(&other_scale).true_count(), 2);
        assert!(KeyBloom::from_values(&DataType::Float64, prices.iter()).is_none());
        // A list whose values are not of the column's type: no filter.
        assert!(KeyBloom::from_values(&DataType::Int64, prices.iter()).is_none());
        assert!(KeyBloom::from_scalar(&ScalarValue::Binary(Some(vec![1, 1, 0]))).is_err());
    }
}
