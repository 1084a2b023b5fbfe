//! The router: every route, its middleware, and the OpenAPI document made from them.
//! One module per resource.

pub mod commands;
mod common_answers;
pub mod files;
pub mod sandboxes;
pub mod snapshots;

use crate::auth::require_token;
use crate::problem::{no_route, wrong_method};
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden sandbox API",
        description = "Sandboxes, commands, files, snapshots and published ports over HTTP \
            (`warden server`). Errors are RFC 7807 problem JSON.",
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::problem::Problem, crate::exec::CommandEvent)),
    tags(
        (name = "sandboxes"), (name = "commands"), (name = "files"), (name = "snapshots"),
        (name = "server"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Whether the server answers (no token needed).
#[utoipa::path(get, path = "/healthz", tag = "server", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The OpenAPI 3.1 document of this API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().routes(routes!(health)).split_for_parts().1;
    common_answers::document(&mut doc);
    doc
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sandboxes::router())
        .merge(commands::router())
        .merge(files::router())
        .merge(snapshots::router())
}

/// The whole application.
pub fn app(state: AppState, max_body: usize) -> Router {
    let (api, doc) = api_router()
        .route_layer(from_fn_with_state(state.tenants.clone(), require_token))
        // Added after the token layer: open to all.
        .routes(routes!(health))
        .split_for_parts();
    let mut doc = doc;
    common_answers::document(&mut doc);
    let doc = std::sync::Arc::new(doc);
    Router::new()
        .merge(api)
        .merge(crate::proxy::router())
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(state.clone(), crate::proxy::by_host))
        .layer(from_fn(log_request))
        .with_state(state)
}

/// One line per request: method, path (never the query, headers or body), status, time.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_v1_operation_needs_the_token_and_every_schema_reference_resolves() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let secured = op["security"] == serde_json::json!([{"bearer": []}]);
                assert_eq!(secured, path.starts_with("/v1/"), "{method} {path}");
            }
        }
        assert!(operations >= 20, "only {operations} operations documented");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} does not resolve"
            );
        }
    }
}
