//! The OpenAPI 3.1 document of `/api/v1`, built from the same types the handlers return
//! (schemars), served at `/api/v1/openapi.json` and committed as `schemas/openapi.json`
//! (a test fails when they drift).

use axum::Json;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::Me;
use super::cdrs::{CdrPage, ReportRow};
use super::recordings::RecordingPage;
use crate::call::CallView;
use crate::events::Event;
use crate::sip::core::RegistrationView;
use crate::store::{Cdr, Recording};

pub async fn document() -> Json<Value> {
    Json(openapi())
}

fn query(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } })
}

/// A time parameter: RFC 3339 or milliseconds since the epoch.
fn time_query(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description,
        "schema": { "anyOf": [{ "type": "string", "format": "date-time" }, { "type": "string", "pattern": "^[0-9]{1,15}$" }] } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({
        "200": { "description": description, "content": { "application/json": { "schema": schema } } },
        "400": { "$ref": "#/components/responses/BadRequest" },
        "401": { "$ref": "#/components/responses/Unauthorized" },
        "403": { "$ref": "#/components/responses/Forbidden" },
        "429": { "$ref": "#/components/responses/TooManyRequests" },
        "503": { "$ref": "#/components/responses/Unavailable" }
    })
}

/// The document.
pub fn openapi() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let me = generator.subschema_for::<Me>().to_value();
    let calls = generator.subschema_for::<Vec<CallView>>().to_value();
    let registrations = generator.subschema_for::<Vec<RegistrationView>>().to_value();
    let trunks = generator.subschema_for::<Vec<crate::trunk::TrunkView>>().to_value();
    let page = generator.subschema_for::<CdrPage>().to_value();
    let cdr = generator.subschema_for::<Cdr>().to_value();
    let report = generator.subschema_for::<Vec<ReportRow>>().to_value();
    let event = generator.subschema_for::<Event>().to_value();
    let recording_page = generator.subschema_for::<RecordingPage>().to_value();
    let recording = generator.subschema_for::<Recording>().to_value();
    let mut components = generator.take_definitions(true);
    components.insert(
        "Error".into(),
        json!({ "type": "object", "properties": { "error": { "type": "string" } }, "required": ["error"] }),
    );
    let scope = [
        query("tenant", "Operator only: one tenant; others see their own."),
        query("extension", "One extension; employees see only their own."),
    ];
    let filters = [
        query("tenant", "Operator only: one tenant; others see their own."),
        time_query("since", "Calls that started at or after this time (RFC 3339 or ms since the epoch)."),
        time_query("until", "Calls that started before this time."),
        query("direction", "internal, inbound or outbound."),
        query("disposition", "answered, busy, no_answer, cancelled or failed."),
        query("extension", "Calls from or to this extension; employees see only their own."),
        query("number", "Calls from or to this number."),
        query("did", "Calls that came in on this DID."),
        query("queue", "Calls handled by this queue."),
    ];
    let cursor = json!({ "name": "cursor", "in": "query", "required": false, "description": "next_cursor of the previous page.",
        "schema": { "type": "string", "pattern": "^-?[0-9]{1,15}\\.[A-Za-z0-9-]{1,80}$" } });
    let mut list_params: Vec<Value> = filters.to_vec();
    list_params.push(cursor.clone());
    list_params.push(json!({ "name": "limit", "in": "query", "required": false, "description": "Page size.",
        "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }));
    list_params.push(json!({ "name": "format", "in": "query", "required": false, "description": "csv for text/csv.",
        "schema": { "type": "string", "enum": ["json", "csv"] } }));
    let mut report_params: Vec<Value> = filters.to_vec();
    report_params.push(json!({ "name": "per", "in": "query", "required": false,
        "schema": { "type": "string", "enum": ["hour", "day"], "default": "hour" } }));
    let mut list_responses = ok("One page of CDRs, newest first.", page);
    list_responses["200"]["content"]["text/csv"] = json!({ "schema": { "type": "string" } });
    let mut one_responses = ok("The CDR with its legs.", cdr);
    one_responses["404"] = json!({ "$ref": "#/components/responses/NotFound" });
    let recording_params = [
        query("tenant", "Operator only: one tenant; others see their own."),
        time_query("since", "Recordings started at or after this time (RFC 3339 or ms since the epoch)."),
        time_query("until", "Recordings started before this time."),
        query("extension", "Recordings of calls from or to this extension; employees see only their own."),
        query("cdr", "Recordings of one call, by its CDR id."),
        cursor,
        json!({ "name": "limit", "in": "query", "required": false, "description": "Page size.",
            "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }),
    ];
    let id_param = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let mut recording_responses = ok("The recording's details.", recording);
    recording_responses["404"] = json!({ "$ref": "#/components/responses/NotFound" });
    let mut audio_responses = ok("The whole WAV file.", json!({}));
    audio_responses["200"]["content"] =
        json!({ "audio/wav": { "schema": { "type": "string", "contentMediaType": "audio/wav" } } });
    audio_responses["206"] = json!({ "description": "The requested byte range (Content-Range says which).",
        "content": { "audio/wav": { "schema": { "type": "string", "contentMediaType": "audio/wav" } } } });
    audio_responses["404"] = json!({ "$ref": "#/components/responses/NotFound" });
    audio_responses["410"] = json!({ "description": "The file is no longer on disk.",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    audio_responses["416"] = json!({ "description": "The range is outside the file; Content-Range gives its size.",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let range = json!({ "name": "Range", "in": "header", "required": false,
        "description": "One byte range, e.g. bytes=0-1023, bytes=1024- or bytes=-4096; others get the whole file.",
        "schema": { "type": "string" } });
    let audio_params = json!([id_param[0], range]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pbx reporting API",
            "version": "1",
            "description": "Read-only views of a tenant's calls, registrations, CDRs and reports, and its live events. \
                Bearer tokens: the node operator's (all tenants), a tenant admin's (one tenant) or an employee's (one extension)."
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/v1/me": { "get": { "operationId": "me", "summary": "Who the token belongs to.", "responses": ok("The caller.", me) } },
            "/api/v1/calls": { "get": { "operationId": "calls", "summary": "Live calls.", "parameters": scope, "responses": ok("Calls in progress.", calls) } },
            "/api/v1/registrations": { "get": { "operationId": "registrations", "summary": "Registered phones.", "parameters": scope, "responses": ok("Registered contacts.", registrations) } },
            "/api/v1/trunks": { "get": { "operationId": "trunks", "summary": "Trunks: registration and whether the carrier answers (not for employees).",
                "parameters": [query("tenant", "Operator only: one tenant; others see their own.")], "responses": ok("The trunks.", trunks) } },
            "/api/v1/cdrs": { "get": { "operationId": "cdrs", "summary": "Finished calls, filtered and paged.", "parameters": list_params, "responses": list_responses } },
            "/api/v1/cdrs/{id}": { "get": { "operationId": "cdr", "summary": "One finished call.",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": one_responses } },
            "/api/v1/recordings": { "get": { "operationId": "recordings", "summary": "Call recordings, newest first, paged.",
                "parameters": recording_params, "responses": ok("One page of recordings.", recording_page) } },
            "/api/v1/recordings/{id}": { "get": { "operationId": "recording", "summary": "One recording.",
                "parameters": id_param, "responses": recording_responses } },
            "/api/v1/recordings/{id}/audio": { "get": { "operationId": "recording_audio",
                "summary": "The recording as WAV (8 kHz, 16-bit, stereo: caller left, callee right), with range requests.",
                "parameters": audio_params, "responses": audio_responses } },
            "/api/v1/reports/calls": { "get": { "operationId": "report_calls", "summary": "Calls per hour or day.", "parameters": report_params, "responses": ok("One row per hour or day.", report.clone()) } },
            "/api/v1/reports/extensions": { "get": { "operationId": "report_extensions", "summary": "Answered and missed calls per extension.", "parameters": filters, "responses": ok("One row per extension.", report.clone()) } },
            "/api/v1/reports/dids": { "get": { "operationId": "report_dids", "summary": "Traffic per DID.", "parameters": filters, "responses": ok("One row per DID.", report) } },
            "/api/v1/events": { "get": { "operationId": "events", "summary": "Live events as Server-Sent Events; each `data:` is one Event.",
                "responses": { "200": { "description": "An endless event stream.", "content": { "text/event-stream": { "schema": event } } },
                    "401": { "$ref": "#/components/responses/Unauthorized" }, "429": { "$ref": "#/components/responses/TooManyRequests" } } } },
            "/api/v1/openapi.json": { "get": { "operationId": "openapi", "summary": "This document.", "security": [],
                "responses": { "200": { "description": "OpenAPI 3.1.", "content": { "application/json": { "schema": { "type": "object" } } } } } } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "BadRequest": { "description": "A parameter is invalid.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "Unauthorized": { "description": "No token, or not a valid one.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "Forbidden": { "description": "The token may not see this.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "NotFound": { "description": "No such object (for this token).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "TooManyRequests": { "description": "Rate limit hit.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "Unavailable": { "description": "SIP or storage is not available.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            },
            "schemas": components
        }
    })
}
