//! SeaORM's conversions on a query already bound to a cache: `.cached(&cache).into_tuple::<T>()`
//! is the same query, and the same key, as `.into_tuple::<T>().cached(&cache)`.
//!
//! `into_model`, `into_partial_model` and `into_json` on every select (`Select`, `SelectTwo`,
//! `SelectTwoRequired`, `SelectThree` .. `SelectSix`); `into_tuple` and `into_values` on
//! `Select`, as SeaORM has them.

use sea_orm::sea_query::Iden;
use sea_orm::strum::IntoEnumIterator;
use sea_orm::{
    EntityTrait, FromQueryResult, PartialModelTrait, Select, SelectFive, SelectFiveModel,
    SelectFour, SelectFourModel, SelectGetableTuple, SelectGetableValue, SelectModel, SelectSix,
    SelectSixModel, SelectThree, SelectThreeModel, SelectTwo, SelectTwoModel, SelectTwoRequired,
    SelectTwoRequiredModel, Selector, Topology, TryGetableMany,
};

use crate::seaorm::query::CachedQuery;

impl<Q> CachedQuery<Q> {
    /// The same cache and settings over another query.
    pub(crate) fn map<R>(self, f: impl FnOnce(Q) -> R) -> CachedQuery<R> {
        CachedQuery {
            query: f(self.query),
            cache: self.cache,
            options: self.options,
        }
    }
}

impl<E: EntityTrait> CachedQuery<Select<E>> {
    /// SeaORM's `into_model::<M>()`, still bound to the cache.
    pub fn into_model<M: FromQueryResult>(self) -> CachedQuery<Selector<SelectModel<M>>> {
        self.map(Select::into_model)
    }

    /// SeaORM's `into_partial_model::<M>()`, still bound to the cache.
    pub fn into_partial_model<M: PartialModelTrait>(self) -> CachedQuery<Selector<SelectModel<M>>> {
        self.map(Select::into_partial_model)
    }

    /// SeaORM's `into_json()`, still bound to the cache.
    pub fn into_json(self) -> CachedQuery<Selector<SelectModel<sea_orm::JsonValue>>> {
        self.map(Select::into_json)
    }

    /// SeaORM's `into_tuple::<T>()`, still bound to the cache.
    pub fn into_tuple<T: TryGetableMany>(self) -> CachedQuery<Selector<SelectGetableTuple<T>>> {
        self.map(Select::into_tuple)
    }

    /// SeaORM's `into_values::<T, C>()`, still bound to the cache.
    pub fn into_values<T, C>(self) -> CachedQuery<Selector<SelectGetableValue<T, C>>>
    where
        T: TryGetableMany,
        C: IntoEnumIterator + Iden,
    {
        self.map(Select::into_values)
    }
}

/// `serde_json::Value`, once per model of a join.
macro_rules! json_for {
    ($model:ident) => {
        sea_orm::JsonValue
    };
}

/// `into_model`, `into_partial_model` and `into_json` on a join of several entities.
macro_rules! join_conversions {
    ([$($entity:ident),+ $(; $top:ident)?] $select:ty => $selector:ident<$($model:ident),+>) => {
        impl<$($entity: EntityTrait,)+ $($top: Topology)?> CachedQuery<$select> {
            /// SeaORM's `into_model::<..>()`, still bound to the cache.
            pub fn into_model<$($model: FromQueryResult),+>(
                self,
            ) -> CachedQuery<Selector<$selector<$($model),+>>> {
                self.map(<$select>::into_model::<$($model),+>)
            }

            /// SeaORM's `into_partial_model::<..>()`, still bound to the cache.
            pub fn into_partial_model<$($model: PartialModelTrait),+>(
                self,
            ) -> CachedQuery<Selector<$selector<$($model),+>>> {
                self.map(<$select>::into_partial_model::<$($model),+>)
            }

            /// SeaORM's `into_json()`, still bound to the cache.
            pub fn into_json(self) -> CachedQuery<Selector<$selector<$(json_for!($model)),+>>> {
                self.map(<$select>::into_json)
            }
        }
    };
}

join_conversions!([E, F] SelectTwo<E, F> => SelectTwoModel<M, N>);
join_conversions!([E, F] SelectTwoRequired<E, F> => SelectTwoRequiredModel<M, N>);
join_conversions!([E, F, G; TOP] SelectThree<E, F, G, TOP> => SelectThreeModel<M, N, O>);
join_conversions!([E, F, G, H; TOP] SelectFour<E, F, G, H, TOP> => SelectFourModel<M, N, O, P>);
join_conversions!(
    [E, F, G, H, I; TOP] SelectFive<E, F, G, H, I, TOP> => SelectFiveModel<M, N, O, P, Q>
);
join_conversions!(
    [E, F, G, H, I, J; TOP] SelectSix<E, F, G, H, I, J, TOP> => SelectSixModel<M, N, O, P, Q, R>
);
