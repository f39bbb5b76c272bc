// A SCIM 2.0 provisioning client run by TestSCIMMYValidatesEveryResponse: it plays Okta's and
// Microsoft Entra ID's documented request sequences against SCIM_URL with SCIM_TOKEN, and
// validates every response against RFC 7643's schemas and RFC 7644's messages with SCIMMY
// (npm "scimmy": its User, Group, ServiceProviderConfig and ResourceType schema definitions and its
// ListResponse and PatchOp messages). Every PATCH body is parsed by SCIMMY's PatchOp first.
//
// It prints one JSON line per step. A line with "wait": true asks the Go test to act (open a
// session, check a refusal) and answer with a line on stdin before the script goes on.
import readline from "node:readline";
import SCIMMY from "scimmy";

const base = process.env.SCIM_URL;
const token = process.env.SCIM_TOKEN;
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

let validated = 0;

function fail(step, msg) {
	throw new Error(`${step}: ${msg}`);
}

// validate checks a response body against what it should be, with SCIMMY.
function validate(step, kind, body) {
	switch (kind) {
		case "user":
			new SCIMMY.Schemas.User(body, "out");
			if (typeof body.id !== "string" || body.meta?.resourceType !== "User" || !body.meta?.location) {
				fail(step, "a User needs id, meta.resourceType and meta.location");
			}
			break;
		case "users": {
			const list = new SCIMMY.Messages.ListResponse(body);
			for (const r of body.Resources ?? []) validate(step, "user", r);
			if (list.totalResults !== body.totalResults) fail(step, "totalResults");
			break;
		}
		case "group":
			new SCIMMY.Schemas.Group(body, "out");
			if (typeof body.id !== "string" || body.meta?.resourceType !== "Group") fail(step, "a Group needs id and meta.resourceType");
			break;
		case "groups": {
			new SCIMMY.Messages.ListResponse(body);
			for (const r of body.Resources ?? []) validate(step, "group", r);
			break;
		}
		case "spc":
			new SCIMMY.Schemas.ServiceProviderConfig(body);
			break;
		case "resourceTypes":
			new SCIMMY.Messages.ListResponse(body);
			for (const r of body.Resources) new SCIMMY.Schemas.ResourceType(r);
			break;
		case "schemas":
			new SCIMMY.Messages.ListResponse(body);
			if (!body.Resources.some((s) => s.id === USER)) fail(step, "no User schema");
			break;
		case "error":
			// RFC 7644 section 3.12: the Error message schema, the status as a string.
			if (body.schemas?.length !== 1 || body.schemas[0] !== ERROR || typeof body.status !== "string") {
				fail(step, `not a SCIM error: ${JSON.stringify(body)}`);
			}
			break;
		case "none":
			break;
		default:
			fail(step, `unknown kind ${kind}`);
	}
	validated++;
}

async function call(step, method, path, body, status, kind) {
	if (method === "PATCH") new SCIMMY.Messages.PatchOp(body);
	const res = await fetch(base + path, {
		method,
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json", Accept: "application/scim+json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (res.status !== status) fail(step, `status ${res.status}, want ${status}: ${text}`);
	let parsed = null;
	if (text !== "") {
		if (res.headers.get("content-type") !== "application/scim+json") fail(step, `content type ${res.headers.get("content-type")}`);
		parsed = JSON.parse(text);
	}
	validate(step, kind, parsed);
	return parsed;
}

async function wait(step, fields) {
	console.log(JSON.stringify({ step, wait: true, ...fields }));
	const { value, done } = await input.next();
	if (done || value !== "ok") fail(step, `the test answered ${value}`);
}

function report(step, fields) {
	console.log(JSON.stringify({ step, ...fields }));
}

const byUserName = (u) => `/Users?filter=${encodeURIComponent(`userName eq "${u}"`)}&startIndex=1&count=100`;

// Discovery.
await call("spc", "GET", "/ServiceProviderConfig", undefined, 200, "spc");
await call("resource_types", "GET", "/ResourceTypes", undefined, 200, "resourceTypes");
await call("schemas", "GET", "/Schemas", undefined, 200, "schemas");

// Okta: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
{
	const userName = "okta.user@acme.test";
	const none = await call("okta_lookup", "GET", byUserName(userName), undefined, 200, "users");
	if (none.totalResults !== 0) fail("okta_lookup", "found a user before creating it");
	const u = await call("okta_create", "POST", "/Users", {
		schemas: [USER], userName, name: { givenName: "Okta", familyName: "User" },
		emails: [{ primary: true, value: userName, type: "work" }], displayName: "Okta User",
		locale: "en-US", externalId: "00ujl29u0le5T6Aj10h7", groups: [], password: "1mz050nq", active: true,
	}, 201, "user");
	const found = await call("okta_lookup_again", "GET", byUserName(userName), undefined, 200, "users");
	if (found.totalResults !== 1 || found.Resources[0].id !== u.id) fail("okta_lookup_again", "not found by userName");
	await call("okta_get", "GET", `/Users/${u.id}`, undefined, 200, "user");
	await call("okta_replace", "PUT", `/Users/${u.id}`, {
		schemas: [USER], id: u.id, userName, name: { givenName: "Another", familyName: "User" },
		emails: [{ primary: true, value: userName, type: "work" }], displayName: "Another User", active: true,
	}, 200, "user");
	await wait("okta_created", { id: u.id });
	const off = await call("okta_deactivate", "PATCH", `/Users/${u.id}`, { schemas: [PATCH], Operations: [{ op: "replace", value: { active: false } }] }, 200, "user");
	if (off.active !== false) fail("okta_deactivate", "still active");
	await wait("okta_deactivated", { id: u.id });
	const on = await call("okta_reactivate", "PATCH", `/Users/${u.id}`, { schemas: [PATCH], Operations: [{ op: "replace", value: { active: true } }] }, 200, "user");
	if (on.active !== true) fail("okta_reactivate", "not active");
	await wait("okta_reactivated", { id: u.id });
	await call("okta_delete", "DELETE", `/Users/${u.id}`, undefined, 204, "none");
	await wait("okta_deleted", { id: u.id });
	await call("okta_get_deleted", "GET", `/Users/${u.id}`, undefined, 404, "error");
}

// Microsoft Entra ID: https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
{
	const userName = "Test_User_dfeef4c5@acme.test";
	await call("entra_lookup", "GET", byUserName(userName), undefined, 200, "users");
	const u = await call("entra_create", "POST", "/Users", {
		schemas: [USER, ENTERPRISE], externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", userName, active: true,
		emails: [{ primary: true, type: "work", value: "Test_User_11bb6fd1@acme.test" }], meta: { resourceType: "User" },
		name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" }, roles: [],
		[ENTERPRISE]: { department: "Engineering" },
	}, 201, "user");
	await call("entra_lookup_again", "GET", byUserName(userName), undefined, 200, "users");
	await call("entra_update", "PATCH", `/Users/${u.id}`, { schemas: [PATCH], Operations: [
		{ op: "Replace", path: 'emails[type eq "work"].value', value: "updatedEmail@acme.test" },
		{ op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
	] }, 200, "user");
	await wait("entra_created", { id: u.id });
	const off = await call("entra_disable", "PATCH", `/Users/${u.id}`, { schemas: [PATCH], Operations: [{ op: "Replace", path: "active", value: "False" }] }, 200, "user");
	if (off.active !== false) fail("entra_disable", "still active");
	await wait("entra_disabled", { id: u.id });
	await call("entra_enable", "PATCH", `/Users/${u.id}`, { schemas: [PATCH], Operations: [{ op: "Replace", path: "active", value: "True" }] }, 200, "user");
	await call("entra_delete", "DELETE", `/Users/${u.id}`, undefined, 204, "none");
}

// Groups drive roles through the identity provider's role rules (the test sets them:
// Engineering gives developer, Ops team_manager).
{
	const g = await call("group_user", "POST", "/Users", { schemas: [USER], userName: "grace@acme.test", active: true }, 201, "user");
	// Okta: create the group empty, then PATCH its members.
	const eng = await call("okta_group_create", "POST", "/Groups", { schemas: [GROUP], displayName: "Engineering", members: [] }, 201, "group");
	await call("okta_group_lookup", "GET", `/Groups?filter=${encodeURIComponent('displayName eq "Engineering"')}&startIndex=1&count=100`, undefined, 200, "groups");
	await call("okta_group_add", "PATCH", `/Groups/${eng.id}`, { schemas: [PATCH], Operations: [
		{ op: "add", path: "members", value: [{ value: g.id, display: "grace@acme.test" }] },
	] }, 200, "group");
	await wait("group_member_added", { id: g.id });
	// Entra: create with an externalId, add, rename, remove by value.
	const ops = await call("entra_group_create", "POST", "/Groups", {
		schemas: [GROUP], externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", displayName: "Ops", meta: { resourceType: "Group" },
	}, 201, "group");
	await call("entra_group_add", "PATCH", `/Groups/${ops.id}`, { schemas: [PATCH], Operations: [
		{ op: "Add", path: "members", value: [{ $ref: null, value: g.id }] },
	] }, 200, "group");
	await wait("group_second_group", { id: g.id });
	await call("okta_group_remove", "PATCH", `/Groups/${eng.id}`, { schemas: [PATCH], Operations: [
		{ op: "remove", path: `members[value eq "${g.id}"]` },
	] }, 200, "group");
	await call("entra_group_remove", "PATCH", `/Groups/${ops.id}`, { schemas: [PATCH], Operations: [
		{ op: "Remove", path: "members", value: [{ $ref: null, value: g.id }] },
	] }, 200, "group");
	await wait("group_member_removed", { id: g.id });
	await call("group_get", "GET", `/Groups/${eng.id}`, undefined, 200, "group");
	await call("group_list", "GET", "/Groups?startIndex=1&count=10", undefined, 200, "groups");
	await call("group_delete", "DELETE", `/Groups/${eng.id}`, undefined, 204, "none");
}

// Refusals come in SCIM's error body.
await call("untrusted_domain", "POST", "/Users", { schemas: [USER], userName: "mallory@elsewhere.test" }, 403, "error");
await call("bad_filter", "GET", `/Users?filter=${encodeURIComponent("userName eq")}`, undefined, 400, "error");
await call("unknown_user", "GET", "/Users/usr_nobody", undefined, 404, "error");
const all = await call("list", "GET", "/Users?startIndex=1&count=10", undefined, 200, "users");
report("done", { validated, members: all.totalResults });
process.exit(0);
