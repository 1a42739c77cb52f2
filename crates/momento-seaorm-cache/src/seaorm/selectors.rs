//! `.cached(&cache)` on the rest of SeaORM's selectors: `find_both_related`
//! (`SelectTwoRequired`), chained `find_also_related` / `find_also` (`SelectThree` to
//! `SelectSix`), and the `Selector`s that `into_tuple`, `into_values`, `into_model`,
//! `into_partial_model` and `into_json` make of each (the conversions themselves, after
//! `.cached()`, are in [`convert`](crate::seaorm::convert)).
//!
//! Each reads like the `Select` it comes from: `.one` runs SeaORM's `LIMIT 1` statement, `.all`
//! and `.count` the query's own.

use std::borrow::Cow;

use sea_orm::sea_query::Iden;
use sea_orm::strum::IntoEnumIterator;
use sea_orm::{
    DbBackend, EntityTrait, FromQueryResult, QuerySelect, QueryTrait, SelectFive, SelectFiveModel,
    SelectFour, SelectFourModel, SelectGetableTuple, SelectGetableValue, SelectSix, SelectSixModel,
    SelectThree, SelectThreeModel, SelectTwoRequired, SelectTwoRequiredModel, Selector,
    SelectorTrait, Statement, Topology, TryGetableMany,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::codec::SerdeFormat;
use crate::key;
use crate::limit;
use crate::seaorm::query::CacheableSelect;
use crate::seaorm::shape::json_format;

/// A row type that can be stored: what a cached read of it needs.
pub trait Storable: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Storable for T {}

/// The label of a join of several entities: `table@fingerprint+fingerprint+…`, made once.
pub(crate) fn joined_label<T: 'static>(
    first: &'static str,
    others: &[&'static str],
) -> &'static str {
    key::memoized::<(T, JoinedLabel)>(|| {
        let mut label = first.to_owned();
        for fingerprint in others {
            label.push('+');
            label.push_str(fingerprint);
        }
        label
    })
}

/// Marks joined labels apart from other memoized strings.
struct JoinedLabel;

impl<E, F> CacheableSelect for SelectTwoRequired<E, F>
where
    E: EntityTrait,
    F: EntityTrait,
    E::Model: Storable,
    F::Model: Storable,
{
    type Selector = SelectTwoRequiredModel<E::Model, F::Model>;
    type Row = (E::Model, F::Model);

    fn into_statement(self, backend: DbBackend) -> Statement {
        self.build(backend)
    }

    fn into_first(self, backend: DbBackend) -> Statement {
        self.limit(1).build(backend)
    }

    fn key_label(_statement: &Statement) -> Cow<'static, str> {
        Cow::Borrowed(joined_label::<(E, F)>(
            key::entity_label::<E>(),
            &[key::schema_fingerprint::<F>()],
        ))
    }
}

/// `CacheableSelect` for `SelectThree` .. `SelectSix`: entities `$first, $other...`, rows
/// `(first, Option<other>...)`, a topology.
macro_rules! cacheable_join {
    ($select:ident, $model:ident, $first:ident $(, $other:ident)+) => {
        impl<$first, $($other,)+ TOP> CacheableSelect for $select<$first, $($other,)+ TOP>
        where
            $first: EntityTrait,
            $first::Model: Storable,
            $($other: EntityTrait, $other::Model: Storable,)+
            TOP: Topology + Send + 'static,
        {
            type Selector = $model<$first::Model, $($other::Model),+>;
            type Row = ($first::Model, $(Option<$other::Model>),+);

            fn into_statement(self, backend: DbBackend) -> Statement {
                self.build(backend)
            }

            fn into_first(self, backend: DbBackend) -> Statement {
                self.limit(1).build(backend)
            }

            fn key_label(_statement: &Statement) -> Cow<'static, str> {
                Cow::Borrowed(joined_label::<($first, $($other,)+ TOP)>(
                    key::entity_label::<$first>(),
                    &[$(key::schema_fingerprint::<$other>()),+],
                ))
            }
        }
    };
}

cacheable_join!(SelectThree, SelectThreeModel, E, F, G);
cacheable_join!(SelectFour, SelectFourModel, E, F, G, H);
cacheable_join!(SelectFive, SelectFiveModel, E, F, G, H, I);
cacheable_join!(SelectSix, SelectSixModel, E, F, G, H, I, J);

/// `CacheableSelect` for a `Selector` whose query only SeaORM can change: `.one` adds SeaORM's
/// `LIMIT 1` to the statement; the label is the statement's main table.
macro_rules! cacheable_selector {
    ([$($param:tt)*] $selector:ty, where [$($bound:tt)*]) => {
        impl<$($param)*> CacheableSelect for Selector<$selector>
        where
            $($bound)*
        {
            type Selector = $selector;
            type Row = <$selector as SelectorTrait>::Item;

            fn into_statement(self, backend: DbBackend) -> Statement {
                Selector::into_statement(self, backend)
            }

            fn into_first(self, backend: DbBackend) -> Statement {
                limit::limit_one(Selector::into_statement(self, backend))
            }

            fn key_label(statement: &Statement) -> Cow<'static, str> {
                key::statement_label(statement)
            }

            fn row_format() -> Option<SerdeFormat> {
                json_format::<Self::Row>()
            }
        }
    };
}

cacheable_selector!([T] SelectGetableTuple<T>, where [T: TryGetableMany + Storable]);
cacheable_selector!(
    [T, C] SelectGetableValue<T, C>,
    where [T: TryGetableMany + Storable, C: IntoEnumIterator + Iden + Send + 'static]
);
cacheable_selector!(
    [M, N] SelectTwoRequiredModel<M, N>,
    where [M: FromQueryResult + Storable, N: FromQueryResult + Storable]
);
cacheable_selector!(
    [M, N, O] SelectThreeModel<M, N, O>,
    where [M: FromQueryResult + Storable, N: FromQueryResult + Storable,
           O: FromQueryResult + Storable]
);
cacheable_selector!(
    [M, N, O, P] SelectFourModel<M, N, O, P>,
    where [M: FromQueryResult + Storable, N: FromQueryResult + Storable,
           O: FromQueryResult + Storable, P: FromQueryResult + Storable]
);
cacheable_selector!(
    [M, N, O, P, Q] SelectFiveModel<M, N, O, P, Q>,
    where [M: FromQueryResult + Storable, N: FromQueryResult + Storable,
           O: FromQueryResult + Storable, P: FromQueryResult + Storable,
           Q: FromQueryResult + Storable]
);
cacheable_selector!(
    [M, N, O, P, Q, R] SelectSixModel<M, N, O, P, Q, R>,
    where [M: FromQueryResult + Storable, N: FromQueryResult + Storable,
           O: FromQueryResult + Storable, P: FromQueryResult + Storable,
           Q: FromQueryResult + Storable, R: FromQueryResult + Storable]
);
