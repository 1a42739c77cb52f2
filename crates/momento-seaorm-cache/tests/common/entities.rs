//! The entities of the Node library's tests: users in user groups, plus two with other keys.

/// `users`: the Node library's User model, belonging to a group.
pub mod user {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
        pub birthday: ChronoDateTimeUtc,
        pub age: i32,
        pub is_active: bool,
        pub account_balance: f64,
        pub group_id: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::user_group::Entity",
            from = "Column::GroupId",
            to = "super::user_group::Column::Id"
        )]
        UserGroup,
    }

    impl Related<super::user_group::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::UserGroup.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `user_groups`: the Node library's UserGroup model.
pub mod user_group {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "user_groups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::user::Entity")]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `products`: a string primary key that is not called `id`.
pub mod product {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sku: String,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `memberships`: a composite primary key.
pub mod membership {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_no: i64,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The result row of a GROUP BY with COUNT.
#[derive(
    Debug, Clone, PartialEq, sea_orm::FromQueryResult, serde::Serialize, serde::Deserialize,
)]
pub struct GroupCount {
    pub group_id: Option<i32>,
    pub user_count: i64,
}

/// `users` as a later deploy sees it: fewer columns, a changed type. Same table, new shape.
pub mod user_v2 {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
        pub age: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
