//! The API's OpenAPI 3.1 document, generated from the handlers and types
//! (`chosync openapi` prints it; `docs/openapi.json` is the committed copy,
//! which a test keeps equal to this).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::v1;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chosync operator API",
        description = "One cooperative catalogue, kept in sync with every marketplace it sells on. \
            Every request needs `Authorization: Bearer <token>` (`chosync token create`): a viewer \
            token reads, an operator token also writes. Errors answer \
            `{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        v1::products::list, v1::products::get, v1::products::create, v1::products::update,
        v1::products::deactivate,
        v1::catalogue::upload, v1::catalogue::export,
        v1::stock::levels, v1::stock::one, v1::stock::adjust,
        v1::channels::list, v1::channels::pause, v1::channels::resume, v1::channels::sync_now,
        v1::channels::retry_sku, v1::channels::plan,
        v1::log::list, v1::log::tail,
        v1::orders::list, v1::orders::one,
        v1::alerts::list, v1::alerts::acknowledge,
        v1::views::explain, v1::views::schedules, v1::views::runs, v1::views::audit,
    ),
    modifiers(&Bearer),
    tags(
        (name = "catalogue", description = "Products, variants, the catalogue file, explain"),
        (name = "stock", description = "Levels and adjustments"),
        (name = "channels", description = "Shops on marketplaces: health, pause, sync, plan, schedules"),
        (name = "log", description = "Sync runs and the sync log (live over SSE)"),
        (name = "orders", description = "Orders recorded from every channel"),
        (name = "alerts", description = "What an operator must see"),
        (name = "access", description = "The audit log of writes"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a token made by `chosync token create`"))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a final newline (the committed copy's form).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"));
    text.push('\n');
    text
}

pub(super) async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
