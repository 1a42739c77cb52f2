//! The RPCs a fault can target: [`Rpc`], parsed from CLI names and recognised from the HTTP/2
//! path of each gRPC request.

use std::fmt;
use std::str::FromStr;

/// The gRPC service name of the data plane (`Scs`), as it appears in request paths.
pub(crate) const DATA_SERVICE: &str = "cache_client.Scs";

/// The gRPC service name of the topics service (`Pubsub`), as it appears in request paths.
pub(crate) const PUBSUB_SERVICE: &str = "cache_client.pubsub.Pubsub";

/// The gRPC service name of the control plane (`ScsControl`), as it appears in request paths.
pub(crate) const CONTROL_SERVICE: &str = "control_client.ScsControl";

/// One RPC of momento-lite's services, as a fault filter names it.
///
/// Each RPC momento-lite implements has its own variant; every other RPC of its services (the
/// ones answering `UNIMPLEMENTED`, such as list and dictionary calls) is [`Rpc::Other`]. On the
/// command line and in [`FromStr`] an RPC is named in snake case: `get`, `get_batch`,
/// `set_if_not_exists`, `create_cache`, `other`...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rpc {
    /// `Get` (the SDK's `get`).
    Get,
    /// `GetBatch` (the SDK's `get_batch`).
    GetBatch,
    /// `Set` (the SDK's `set`).
    Set,
    /// `SetBatch` (the SDK's `set_batch`).
    SetBatch,
    /// `Delete` (the SDK's `delete`).
    Delete,
    /// `SetIf` (the SDK's `set_if_absent`, `set_if_present`, `set_if_equal`...).
    SetIf,
    /// `SetIfNotExists` (not sent by the SDK 0.70, which uses `SetIf`).
    SetIfNotExists,
    /// `KeysExist` (the SDK's `key_exists` and `keys_exist`).
    KeysExist,
    /// `Increment` (the SDK's `increment`).
    Increment,
    /// `UpdateTtl` (the SDK's `update_ttl`, `increase_ttl`, `decrease_ttl`).
    UpdateTtl,
    /// `ItemGetTtl` (the SDK's `item_get_ttl`).
    ItemGetTtl,
    /// `SetUnion` (the SDK's `set_add_elements`).
    SetUnion,
    /// `SetDifference` (the SDK's `set_remove_elements`).
    SetDifference,
    /// `SetFetch` (the SDK's `set_fetch`).
    SetFetch,
    /// `Publish` of the topics service (the `TopicClient`'s `publish`).
    Publish,
    /// `Subscribe` of the topics service (the `TopicClient`'s `subscribe`, and each resubscription
    /// the SDK's `Subscription` makes after its stream ends). A latency fault delays the start of
    /// the stream, an error fault refuses it (a resubscribing SDK 0.70 retries at once, with no
    /// backoff, for as long as its `Subscription` is polled).
    Subscribe,
    /// `CreateCache`, on the control plane.
    CreateCache,
    /// `DeleteCache`, on the control plane.
    DeleteCache,
    /// `ListCaches`, on the control plane.
    ListCaches,
    /// `FlushCache`, on the control plane.
    FlushCache,
    /// Any other RPC of these services (all answer `UNIMPLEMENTED`); counted as data plane.
    Other,
}

impl Rpc {
    /// Every RPC, in declaration order.
    pub const ALL: [Rpc; 21] = [
        Rpc::Get,
        Rpc::GetBatch,
        Rpc::Set,
        Rpc::SetBatch,
        Rpc::Delete,
        Rpc::SetIf,
        Rpc::SetIfNotExists,
        Rpc::KeysExist,
        Rpc::Increment,
        Rpc::UpdateTtl,
        Rpc::ItemGetTtl,
        Rpc::SetUnion,
        Rpc::SetDifference,
        Rpc::SetFetch,
        Rpc::Publish,
        Rpc::Subscribe,
        Rpc::CreateCache,
        Rpc::DeleteCache,
        Rpc::ListCaches,
        Rpc::FlushCache,
        Rpc::Other,
    ];

    /// The snake-case name [`FromStr`] accepts, such as `get_batch`.
    pub fn name(self) -> &'static str {
        match self {
            Rpc::Get => "get",
            Rpc::GetBatch => "get_batch",
            Rpc::Set => "set",
            Rpc::SetBatch => "set_batch",
            Rpc::Delete => "delete",
            Rpc::SetIf => "set_if",
            Rpc::SetIfNotExists => "set_if_not_exists",
            Rpc::KeysExist => "keys_exist",
            Rpc::Increment => "increment",
            Rpc::UpdateTtl => "update_ttl",
            Rpc::ItemGetTtl => "item_get_ttl",
            Rpc::SetUnion => "set_union",
            Rpc::SetDifference => "set_difference",
            Rpc::SetFetch => "set_fetch",
            Rpc::Publish => "publish",
            Rpc::Subscribe => "subscribe",
            Rpc::CreateCache => "create_cache",
            Rpc::DeleteCache => "delete_cache",
            Rpc::ListCaches => "list_caches",
            Rpc::FlushCache => "flush_cache",
            Rpc::Other => "other",
        }
    }

    /// Whether this is a control-plane RPC (create, delete, list or flush caches).
    pub fn is_control(self) -> bool {
        matches!(
            self,
            Rpc::CreateCache | Rpc::DeleteCache | Rpc::ListCaches | Rpc::FlushCache
        )
    }

    /// The RPC a request path such as `/cache_client.Scs/Get` calls, or `None` when the path
    /// belongs to none of momento-lite's services.
    pub(crate) fn from_path(path: &str) -> Option<Rpc> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let rpc = match (service, method) {
            (DATA_SERVICE, "Get") => Rpc::Get,
            (DATA_SERVICE, "GetBatch") => Rpc::GetBatch,
            (DATA_SERVICE, "Set") => Rpc::Set,
            (DATA_SERVICE, "SetBatch") => Rpc::SetBatch,
            (DATA_SERVICE, "Delete") => Rpc::Delete,
            (DATA_SERVICE, "SetIf") => Rpc::SetIf,
            (DATA_SERVICE, "SetIfNotExists") => Rpc::SetIfNotExists,
            (DATA_SERVICE, "KeysExist") => Rpc::KeysExist,
            (DATA_SERVICE, "Increment") => Rpc::Increment,
            (DATA_SERVICE, "UpdateTtl") => Rpc::UpdateTtl,
            (DATA_SERVICE, "ItemGetTtl") => Rpc::ItemGetTtl,
            (DATA_SERVICE, "SetUnion") => Rpc::SetUnion,
            (DATA_SERVICE, "SetDifference") => Rpc::SetDifference,
            (DATA_SERVICE, "SetFetch") => Rpc::SetFetch,
            (PUBSUB_SERVICE, "Publish") => Rpc::Publish,
            (PUBSUB_SERVICE, "Subscribe") => Rpc::Subscribe,
            (CONTROL_SERVICE, "CreateCache") => Rpc::CreateCache,
            (CONTROL_SERVICE, "DeleteCache") => Rpc::DeleteCache,
            (CONTROL_SERVICE, "ListCaches") => Rpc::ListCaches,
            (CONTROL_SERVICE, "FlushCache") => Rpc::FlushCache,
            (DATA_SERVICE | CONTROL_SERVICE | PUBSUB_SERVICE, _) => Rpc::Other,
            _ => return None,
        };
        Some(rpc)
    }
}

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an [`Rpc`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown RPC {0:?}; expected one of: {names}", names = rpc_names())]
pub struct ParseRpcError(pub String);

fn rpc_names() -> String {
    let names: Vec<&str> = Rpc::ALL.iter().map(|rpc| rpc.name()).collect();
    names.join(", ")
}

impl FromStr for Rpc {
    type Err = ParseRpcError;

    /// Parses a snake-case name (`get_batch`); case and `-` for `_` are forgiven.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let normalized = name.trim().to_ascii_lowercase().replace('-', "_");
        Rpc::ALL
            .into_iter()
            .find(|rpc| rpc.name() == normalized)
            .ok_or_else(|| ParseRpcError(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use momento_protos::cache_client::pubsub::pubsub_server::PubsubServer;
    use momento_protos::cache_client::scs_server::ScsServer;
    use momento_protos::control_client::scs_control_server::ScsControlServer;
    use tonic::server::NamedService;

    use super::*;
    use crate::control::ControlService;
    use crate::data::DataService;

    #[test]
    fn every_name_parses_back() {
        for rpc in Rpc::ALL {
            assert_eq!(rpc.name().parse::<Rpc>(), Ok(rpc));
        }
        assert_eq!("GET-BATCH".parse::<Rpc>(), Ok(Rpc::GetBatch));
        let error = "fetch".parse::<Rpc>().expect_err("not an RPC");
        assert!(error.to_string().contains("get_batch"), "{error}");
    }

    #[test]
    fn service_names_match_the_generated_servers() {
        assert_eq!(<ScsServer<DataService> as NamedService>::NAME, DATA_SERVICE);
        assert_eq!(<PubsubServer<()> as NamedService>::NAME, PUBSUB_SERVICE);
        assert_eq!(
            <ScsControlServer<ControlService> as NamedService>::NAME,
            CONTROL_SERVICE
        );
    }

    #[test]
    fn paths_map_to_rpcs() {
        assert_eq!(Rpc::from_path("/cache_client.Scs/Get"), Some(Rpc::Get));
        assert_eq!(
            Rpc::from_path("/cache_client.Scs/SetIfNotExists"),
            Some(Rpc::SetIfNotExists)
        );
        assert_eq!(
            Rpc::from_path("/control_client.ScsControl/ListCaches"),
            Some(Rpc::ListCaches)
        );
        assert_eq!(
            Rpc::from_path("/cache_client.Scs/ListPushFront"),
            Some(Rpc::Other)
        );
        assert_eq!(
            Rpc::from_path("/control_client.ScsControl/CreateIndex"),
            Some(Rpc::Other)
        );
        assert_eq!(
            Rpc::from_path("/cache_client.pubsub.Pubsub/Subscribe"),
            Some(Rpc::Subscribe)
        );
        assert_eq!(
            Rpc::from_path("/cache_client.pubsub.Pubsub/Publish"),
            Some(Rpc::Publish)
        );
        assert_eq!(Rpc::from_path("/grpc.health.v1.Health/Check"), None);
        assert_eq!(Rpc::from_path("/cache_client.Scs"), None);
    }
}
