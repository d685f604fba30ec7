//! The JSON bodies the mock answers with, per cloud; generic across
//! collections, chosen so that the vendors' SDK models parse them (see the
//! table in [`crate::mock`]).
//!
//! Both SDKs ignore keys their models do not know and leave missing keys
//! `None`, so one shape per cloud can carry every key any model of that
//! cloud reads for a list or an id. What must never happen is a key with a
//! type a model cannot convert (Huawei calls `int("…")` on an `int` field;
//! Alibaba's Tea models call `from_map` on a nested object), so the keys we
//! add are strings, numbers, or objects where models expect objects.

use serde_json::{json, Map, Value};

use super::table::Collection;
use crate::cloud::Cloud;

/// The id of a new item: the client's own (the item key in the body, or its
/// name when the SDK addresses the resource by name), else a fresh uuid.
pub(crate) fn choose_id(coll: &Collection, body: &Map<String, Value>) -> String {
    let mut candidates = vec![
        body.get(&coll.item_param),
        body.get(&camel(&coll.item_param)),
    ];
    if coll.by_name {
        candidates.push(body.get("name"));
        candidates.push(body.get("metadata").and_then(|m| m.get("name")));
    }
    candidates
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Put the id under every key the cloud's models read it from.
pub(crate) fn decorate(cloud: Cloud, coll: &Collection, id: &str, item: &mut Map<String, Value>) {
    match cloud {
        Cloud::Huawei => decorate_huawei(coll, id, item),
        Cloud::Aliyun => decorate_aliyun(coll, id, item),
    }
}

/// `id`, the item parameter (`workflow_id`), `name` for name-addressed items,
/// and `metadata.{id,name}` (algorithms, training jobs, pools, networks).
fn decorate_huawei(coll: &Collection, id: &str, item: &mut Map<String, Value>) {
    item.insert("id".into(), json!(id));
    item.insert(coll.item_param.clone(), json!(id));
    if coll.by_name {
        item.insert("name".into(), json!(id));
    }
    let name = item.get("name").cloned();
    if !matches!(item.get("metadata"), Some(Value::Object(_))) {
        item.insert("metadata".into(), json!({}));
    }
    if let Some(Value::Object(meta)) = item.get_mut("metadata") {
        meta.insert("id".into(), json!(id));
        if coll.by_name {
            meta.insert("name".into(), json!(id));
        } else if let Some(name) = name.filter(|_| !meta.contains_key("name")) {
            meta.insert("name".into(), name);
        }
    }
}

/// The item parameter in camelCase (`agentRuntimeId`, `templateName`), `id`
/// when absent (IM bots), and for name-addressed items a stable
/// `<resource>Id` (`templateId`).
fn decorate_aliyun(coll: &Collection, id: &str, item: &mut Map<String, Value>) {
    item.insert(camel(&coll.item_param), json!(id));
    item.entry("id").or_insert_with(|| json!(id));
    if let Some(stem) = coll.item_param.strip_suffix("_name") {
        item.entry(camel(&format!("{stem}_id")))
            .or_insert_with(|| json!(uuid::Uuid::new_v4().to_string()));
    }
}

/// A single item (create, get, update, delete).
pub(crate) fn single(cloud: Cloud, item: Value) -> Value {
    match cloud {
        Cloud::Huawei => item,
        Cloud::Aliyun => json!({"code": "SUCCESS", "requestId": request_id(), "data": item}),
    }
}

/// A list of items under every key the cloud's list models use.
pub(crate) fn list(cloud: Cloud, coll: &Collection, items: Vec<Value>) -> Value {
    let total = items.len();
    let items = Value::Array(items);
    match cloud {
        Cloud::Huawei => {
            let mut body = Map::new();
            body.insert(coll.list_key.replace('-', "_"), items.clone());
            body.insert("data".into(), items.clone());
            body.insert("items".into(), items);
            body.insert("total".into(), json!(total));
            body.insert("count".into(), json!(total));
            Value::Object(body)
        }
        Cloud::Aliyun => {
            let mut data = Map::new();
            data.insert(camel(&coll.list_key.replace('-', "_")), items.clone());
            data.insert("items".into(), items);
            data.insert("total".into(), json!(total));
            data.insert("pageNumber".into(), json!(1));
            data.insert("pageSize".into(), json!(total.max(10)));
            json!({"code": "SUCCESS", "requestId": request_id(), "data": data})
        }
    }
}

/// The answer of a route that is not part of a collection.
pub(crate) fn other(cloud: Cloud, operation: &str) -> Value {
    match cloud {
        Cloud::Huawei => json!({"operation": operation}),
        Cloud::Aliyun => json!({"code": "SUCCESS", "requestId": request_id()}),
    }
}

/// An error body in the cloud's shape; both shapes when the cloud is unknown.
pub(crate) fn error(cloud: Option<Cloud>, code: &str, message: &str) -> Value {
    let id = request_id();
    match cloud {
        Some(Cloud::Huawei) => {
            json!({"error_code": format!("Mock.{code}"), "error_msg": message, "request_id": id})
        }
        Some(Cloud::Aliyun) => {
            json!({"code": aliyun_code(code), "message": message, "requestId": id})
        }
        None => json!({
            "error_code": format!("Mock.{code}"), "error_msg": message, "request_id": id,
            "Code": aliyun_code(code), "Message": message, "RequestId": id,
        }),
    }
}

/// AgentRun's error codes for the mock's three failures.
fn aliyun_code(code: &str) -> &'static str {
    match code {
        "0404" => "ERR_NOT_FOUND",
        "0409" => "ERR_CONFLICT",
        _ => "ERR_BAD_REQUEST",
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `agent_runtime_id` → `agentRuntimeId`.
pub(crate) fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn coll(param: &str, key: &str) -> Collection {
        let by_name = param.ends_with("_name");
        Collection {
            item_param: param.into(),
            by_name,
            list_key: key.into(),
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn camel_case() {
        assert_eq!(camel("agent_runtime_id"), "agentRuntimeId");
        assert_eq!(camel("id"), "id");
    }

    #[test]
    fn ids_come_from_the_body_when_the_sdk_addresses_by_name() {
        let c = coll("template_name", "templates");
        assert_eq!(choose_id(&c, &obj(json!({"templateName": "t1"}))), "t1");
        let c = coll("sandbox_id", "sandboxes");
        assert_eq!(choose_id(&c, &obj(json!({"sandboxId": "s1"}))), "s1");
        let c = coll("id", "notebooks");
        assert_ne!(choose_id(&c, &obj(json!({"name": "nb"}))), "nb");
    }

    #[test]
    fn huawei_items_carry_the_id_everywhere() {
        let c = coll("pool_name", "pools");
        let mut item = obj(json!({"metadata": {"labels": {}}}));
        decorate(Cloud::Huawei, &c, "pool-1", &mut item);
        assert_eq!(item["metadata"]["name"], "pool-1");
        assert_eq!(item["id"], "pool-1");
        assert_eq!(item["pool_name"], "pool-1");
    }

    #[test]
    fn aliyun_items_carry_camel_keys() {
        let c = coll("template_name", "templates");
        let mut item = Map::new();
        decorate(Cloud::Aliyun, &c, "t1", &mut item);
        assert_eq!(item["templateName"], "t1");
        assert!(item["templateId"].is_string());
    }

    #[test]
    fn list_shapes() {
        let huawei = list(
            Cloud::Huawei,
            &coll("id", "hyper-clusters"),
            vec![json!({"id": "a"})],
        );
        assert_eq!(huawei["hyper_clusters"][0]["id"], "a");
        assert_eq!(huawei["data"][0]["id"], "a");
        assert_eq!(huawei["total"], 1);
        let aliyun = list(
            Cloud::Aliyun,
            &coll("workspace_id", "workspaces"),
            vec![json!({})],
        );
        assert_eq!(aliyun["data"]["items"].as_array().unwrap().len(), 1);
        assert_eq!(aliyun["data"]["workspaces"].as_array().unwrap().len(), 1);
        assert_eq!(aliyun["code"], "SUCCESS");
    }

    #[test]
    fn unknown_cloud_errors_carry_both_shapes() {
        let body = error(None, "0404", "no such path");
        assert_eq!(body["error_code"], "Mock.0404");
        assert_eq!(body["Code"], "ERR_NOT_FOUND");
    }
}
