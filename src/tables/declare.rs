//! How a table declares its columns once: the [`columns!`] list of a row type's fields, in file
//! order, from which the schema, the DataFrame written and the rows read back all follow, and the
//! [`Cell`] types a field can have (each fixes its column's type and nullability).

use anyhow::{Context, Result};
use polars::prelude::*;

use super::{TableSchema, column};

/// A row type whose fields are declared as columns, once, with [`columns!`]: a table's schema,
/// its DataFrame and the rows read back from it all follow from that one declaration, so they
/// cannot drift apart.
pub(crate) trait Columns: Sized {
    /// Appends the name and type of each column, in file order.
    fn schema(out: &mut Vec<(&'static str, DataType)>);
    /// Appends one column per declared column, in file order.
    fn write<'a>(rows: impl Iterator<Item = &'a Self> + Clone, out: &mut Vec<Column>)
    where
        Self: 'a;
    /// The rows of `df` (derived columns are not read back).
    fn read(df: &DataFrame) -> Result<Vec<Self>>;
}

impl TableSchema {
    /// The schema of table `name`, version `version`, whose rows are `R`.
    pub(crate) fn of<R: Columns>(name: &'static str, version: u32) -> Self {
        let mut columns = Vec::new();
        R::schema(&mut columns);
        TableSchema {
            name,
            version,
            columns,
            upgrades: Vec::new(),
        }
    }
}

/// The DataFrame of `rows`, one column per declared column.
pub(crate) fn to_frame<R: Columns>(rows: &[R]) -> Result<DataFrame> {
    let mut columns = Vec::new();
    R::write(rows.iter(), &mut columns);
    Ok(DataFrame::new(columns)?)
}

/// Declares the columns of a row type once, in file order, and implements [`Columns`] from
/// that list. Each entry is one of:
///
/// - `field`: a column named like the field, typed by the field's [`Cell`] type (an `Option`
///   field makes a nullable column);
/// - `column = |row| value`: a column derived from the row, written for readers of the file
///   (lengths, flags, perplexity) and not read back;
/// - `field: flatten`: the columns declared for the field's own type, spliced in here.
///
/// A final `..` leaves the fields without a column at their `Default` when read; without it,
/// a field the list forgets is a compile error.
///
/// ```ignore
/// columns! {
///     ExampleRow {
///         pair_id,
///         input_ids,
///         input_len = |r| r.input_ids.len() as u32,
///         retrieved_score,
///     }
/// }
/// ```
macro_rules! columns {
    ($row:ident { $($body:tt)* }) => {
        $crate::tables::declare::columns!(@munch $row [] [] [] $($body)*);
    };
    // Sorts the entries into the columns in order, the fields read as cells and those read as
    // flattened column groups.
    (@munch $row:ident [$($col:tt)*] [$($cell:ident)*] [$($flat:ident)*] .. $(,)?) => {
        $crate::tables::declare::columns!(
            @impl $row [$($col)*] [$($cell)*] [$($flat)*] [..Default::default()]
        );
    };
    (@munch $row:ident [$($col:tt)*] [$($cell:ident)*] [$($flat:ident)*]) => {
        $crate::tables::declare::columns!(@impl $row [$($col)*] [$($cell)*] [$($flat)*] []);
    };
    (@munch $row:ident [$($col:tt)*] [$($cell:ident)*] [$($flat:ident)*]
        $f:ident : flatten $(, $($rest:tt)*)?) => {
        $crate::tables::declare::columns!(
            @munch $row [$($col)* (flatten $f)] [$($cell)*] [$($flat)* $f] $($($rest)*)?
        );
    };
    (@munch $row:ident [$($col:tt)*] [$($cell:ident)*] [$($flat:ident)*]
        $f:ident = $get:expr $(, $($rest:tt)*)?) => {
        $crate::tables::declare::columns!(
            @munch $row [$($col)* (derived $f $get)] [$($cell)*] [$($flat)*] $($($rest)*)?
        );
    };
    (@munch $row:ident [$($col:tt)*] [$($cell:ident)*] [$($flat:ident)*]
        $f:ident $(, $($rest:tt)*)?) => {
        $crate::tables::declare::columns!(
            @munch $row [$($col)* (field $f)] [$($cell)* $f] [$($flat)*] $($($rest)*)?
        );
    };
    (@impl $row:ident [$($col:tt)*] [$($cell:ident)*] [$($flat:ident)*] [$($base:tt)*]) => {
        impl $crate::tables::Columns for $row {
            fn schema(out: &mut Vec<(&'static str, ::polars::prelude::DataType)>) {
                $($crate::tables::declare::columns!(@schema $row out $col);)*
            }

            fn write<'a>(
                rows: impl Iterator<Item = &'a Self> + Clone,
                out: &mut Vec<::polars::prelude::Column>,
            ) where
                Self: 'a,
            {
                $($crate::tables::declare::columns!(@write rows out $col);)*
            }

            fn read(df: &::polars::prelude::DataFrame) -> ::anyhow::Result<Vec<Self>> {
                $(let mut $cell = $crate::tables::declare::read_cells(df, stringify!($cell))?.into_iter();)*
                $(let mut $flat = $crate::tables::Columns::read(df)?.into_iter();)*
                const SAME_HEIGHT: &str = "a DataFrame's columns have its height";
                Ok((0..df.height())
                    .map(|_| $row {
                        $($cell: $cell.next().expect(SAME_HEIGHT),)*
                        $($flat: $flat.next().expect(SAME_HEIGHT),)*
                        $($base)*
                    })
                    .collect())
            }
        }
    };
    (@schema $row:ident $out:ident (field $f:ident)) => {
        $out.push((stringify!($f), $crate::tables::declare::field_dtype(|row: &$row| &row.$f)));
    };
    (@schema $row:ident $out:ident (derived $f:ident $get:expr)) => {
        $out.push((stringify!($f), $crate::tables::declare::derived_dtype::<$row, _>($get)));
    };
    (@schema $row:ident $out:ident (flatten $f:ident)) => {
        $crate::tables::declare::flattened_schema(|row: &$row| &row.$f, $out);
    };
    (@write $rows:ident $out:ident (field $f:ident)) => {
        $out.push($crate::tables::Cell::column(
            stringify!($f),
            $rows.clone().map(|row| &row.$f),
        ));
    };
    (@write $rows:ident $out:ident (derived $f:ident $get:expr)) => {{
        let values: Vec<_> = $rows.clone().map($get).collect();
        $out.push($crate::tables::Cell::column(stringify!($f), values.iter()));
    }};
    (@write $rows:ident $out:ident (flatten $f:ident)) => {
        $crate::tables::Columns::write($rows.clone().map(|row| &row.$f), $out);
    };
}
pub(crate) use columns;

/// The column type of a field (the macro names the field; the type follows from it).
pub(crate) fn field_dtype<R, T: Cell>(_field: fn(&R) -> &T) -> DataType {
    T::dtype()
}

/// The column type of a derived column.
pub(crate) fn derived_dtype<R, T: Cell>(_derive: impl Fn(&R) -> T) -> DataType {
    T::dtype()
}

/// The columns of a flattened field's type.
pub(crate) fn flattened_schema<R, T: Columns>(
    _field: fn(&R) -> &T,
    out: &mut Vec<(&'static str, DataType)>,
) {
    T::schema(out);
}

/// The values of column `name` of `df`.
pub(crate) fn read_cells<T: Cell>(df: &DataFrame, name: &str) -> Result<Vec<T>> {
    T::read(column(df, name)?)
}

/// How a field's value is stored in a column: the column's type, how a column of such values
/// is built, and how it is read back. Nullability follows the Rust type: only `Option` fields
/// make columns that hold nulls; a null in any other column reads as 0, NaN, `false` or empty.
pub(crate) trait Cell: Sized {
    fn dtype() -> DataType;
    /// The column `name` holding `values`, one per row.
    fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column
    where
        Self: 'a;
    /// The values of `column`, one per row.
    fn read(column: &Column) -> Result<Vec<Self>>;
}

/// The typed view of `column`, naming the column and the expected type in the error.
fn typed<'a, T: PolarsDataType>(
    column: &'a Column,
    view: impl Fn(&'a Column) -> PolarsResult<&'a ChunkedArray<T>>,
    dtype: &DataType,
) -> Result<&'a ChunkedArray<T>> {
    view(column).with_context(|| format!("column `{}` is not {dtype}", column.name()))
}

/// [`Cell`] for a primitive type and for its `Option`, with the value a null reads as.
macro_rules! primitive_cells {
    ($($t:ty: $dtype:ident, $view:ident, null = $null:expr;)*) => {$(
        impl Cell for $t {
            fn dtype() -> DataType {
                DataType::$dtype
            }
            fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column {
                Column::new(name.into(), values.copied().collect::<Vec<$t>>())
            }
            fn read(column: &Column) -> Result<Vec<Self>> {
                Ok(typed(column, Column::$view, &Self::dtype())?
                    .into_iter()
                    .map(|v| v.unwrap_or($null))
                    .collect())
            }
        }

        impl Cell for Option<$t> {
            fn dtype() -> DataType {
                DataType::$dtype
            }
            fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column {
                Column::new(name.into(), values.copied().collect::<Vec<Option<$t>>>())
            }
            fn read(column: &Column) -> Result<Vec<Self>> {
                Ok(typed(column, Column::$view, &Self::dtype())?.into_iter().collect())
            }
        }
    )*};
}

primitive_cells! {
    u32: UInt32, u32, null = 0;
    u64: UInt64, u64, null = 0;
    f64: Float64, f64, null = f64::NAN;
    bool: Boolean, bool, null = false;
}

impl Cell for String {
    fn dtype() -> DataType {
        DataType::String
    }
    fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column {
        Column::new(name.into(), values.map(String::as_str).collect::<Vec<_>>())
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        Ok(typed(column, Column::str, &Self::dtype())?
            .into_iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect())
    }
}

impl Cell for Option<String> {
    fn dtype() -> DataType {
        DataType::String
    }
    fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column {
        Column::new(
            name.into(),
            values.map(Option::as_deref).collect::<Vec<Option<&str>>>(),
        )
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        Ok(typed(column, Column::str, &Self::dtype())?
            .into_iter()
            .map(|s| s.map(str::to_string))
            .collect())
    }
}

/// Lists of strings (a pair's constructors, method signatures and fields); a null list reads
/// as empty.
impl Cell for Vec<String> {
    fn dtype() -> DataType {
        DataType::List(Box::new(DataType::String))
    }
    fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column {
        let lists: Vec<Series> = values
            .map(|items| Series::new("".into(), items.clone()))
            .collect();
        let mut series = Series::new(name.into(), lists);
        if series.dtype() != &Self::dtype() {
            // An empty table gives `List(Null)`; the schema says lists of strings.
            series = series
                .cast(&Self::dtype())
                .expect("a list of nulls casts to a list of strings");
        }
        series.into()
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        let name = column.name();
        typed(column, Column::list, &Self::dtype())?
            .into_iter()
            .map(|row| match row {
                None => Ok(Vec::new()),
                Some(series) => Ok(series
                    .str()
                    .with_context(|| format!("column `{name}` is not a list of strings"))?
                    .into_iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect()),
            })
            .collect()
    }
}

/// Lists of token ids; a null list reads as empty.
impl Cell for Vec<u32> {
    fn dtype() -> DataType {
        DataType::List(Box::new(DataType::UInt32))
    }
    fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column {
        let values: Vec<&Vec<u32>> = values.collect();
        let mut builder = ListPrimitiveChunkedBuilder::<UInt32Type>::new(
            name.into(),
            values.len(),
            values.iter().map(|ids| ids.len()).sum(),
            DataType::UInt32,
        );
        for ids in values {
            builder.append_slice(ids);
        }
        builder.finish().into_series().into()
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        let name = column.name();
        typed(column, Column::list, &Self::dtype())?
            .into_iter()
            .map(|row| match row {
                None => Ok(Vec::new()),
                Some(series) => Ok(series
                    .u32()
                    .with_context(|| format!("column `{name}` is not a list of u32"))?
                    .into_no_null_iter()
                    .collect()),
            })
            .collect()
    }
}

/// An enum stored by name in a string column (a project's status, a pair's heuristic).
pub(crate) trait Label: Sized {
    fn label(&self) -> &'static str;
    fn parse(label: &str) -> Result<Self>;
}

impl<T: Label> Cell for T {
    fn dtype() -> DataType {
        DataType::String
    }
    fn column<'a>(name: &str, values: impl Iterator<Item = &'a Self>) -> Column
    where
        Self: 'a,
    {
        Column::new(name.into(), values.map(T::label).collect::<Vec<_>>())
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        String::read(column)?
            .iter()
            .enumerate()
            .map(|(row, label)| {
                T::parse(label).with_context(|| format!("column `{}`, row {row}", column.name()))
            })
            .collect()
    }
}
