// Drives the API server with ngrok's own JavaScript API client (@ngrok/ngrok-api), as an
// ngrok user would (event destinations with iamkit's webhook target), and prints one JSON line per step for TestNgrokJavaScriptClient to check.
// Environment: BASE_URL, API_KEY, SSH_PUBLIC_KEY; NODE_PATH must reach @ngrok/ngrok-api.
const { Ngrok } = require('@ngrok/ngrok-api');
const util = require('@ngrok/ngrok-api/lib/util');

const ngrok = new Ngrok({ apiToken: process.env.API_KEY, baseUrl: process.env.BASE_URL });
const out = (step, v) => console.log(JSON.stringify({ step, ...v }));
// The client parses a JSON body out of every DELETE response, so it rejects the bodyless 204
// that ngrok documents; the deletion itself happened (the Go test checks).
const del = async (svc, id) => { try { await svc.delete(id); } catch (e) { } };

// The client (0.11) predates /service_users and has no access tokens. These resources go
// through its own HTTP stack (its authorization and Ngrok-Version headers, its JSON case
// conversion and its error type), the way its generated services call ngrok's.
class Resource {
  constructor(client, path, listKey) { this.http = client.httpClient; this.path = path; this.listKey = listKey; }
  call(req) { return req.json(p => util.deserializeResult(p)).then(f => f, util.onRejected); }
  create(arg) { return this.call(this.http.url(this.path).post(util.serializeArgument(arg))); }
  get(id) { return this.call(this.http.url(`${this.path}/${id}`).get()); }
  update(arg) { return this.call(this.http.url(`${this.path}/${arg.id}`).patch(util.serializeArgument(arg))); }
  post(id, action, arg) { return this.call(this.http.url(`${this.path}/${id}/${action}`).post(util.serializeArgument(arg || {}))); }
  async list(limit) { // follows next_page_uri, as the generated lists do
    const items = [];
    let page = await this.call(this.http.url(this.path).query({ limit }).get());
    for (;;) {
      items.push(...page[this.listKey]);
      if (!page.nextPageUri) return items;
      page = await this.call(this.http.url(this.path).query({ beforeId: items[items.length - 1].id, limit }).get());
    }
  }
}

(async () => {
  const bot = await ngrok.botUsers.create({ name: 'js-bot', active: true });
  out('bot_create', { id: bot.id, name: bot.name, active: bot.active, createdAt: bot.createdAt });
  for (let i = 0; i < 4; i++) await ngrok.botUsers.create({ name: 'js-extra-' + i });
  const bots = await ngrok.botUsers.list(undefined, '2'); // the client follows next_page_uri
  out('bot_list', { ids: bots.map(b => b.id) });
  const upd = await ngrok.botUsers.update({ id: bot.id, name: 'js-bot-2' });
  out('bot_update', { name: upd.name, active: upd.active });

  const cred = await ngrok.credentials.create({ description: 'agent', acl: ['bind:*.example.com'], ownerId: bot.id });
  out('credential_create', { id: cred.id, ownerId: cred.ownerId, token: cred.token, acl: cred.acl });
  const got = await ngrok.credentials.get(cred.id);
  out('credential_get', { token: got.token, description: got.description });
  const cu = await ngrok.credentials.update({ id: cred.id, description: 'agent 2' });
  out('credential_update', { description: cu.description });
  try { await ngrok.credentials.update({ id: cred.id }); out('empty_update', {}); }
  catch (e) { out('empty_update', { errorCode: e.errorCode, statusCode: e.statusCode }); }

  const key = await ngrok.apiKeys.create({ description: 'ci key', ownerId: bot.id });
  out('api_key_create', { id: key.id, token: key.token });
  const keys = await ngrok.apiKeys.list();
  out('api_key_list', { ids: keys.map(k => k.id) });

  const ssh = await ngrok.sshCredentials.create({ publicKey: process.env.SSH_PUBLIC_KEY, acl: ['bind:example.com:22'] });
  out('ssh_create', { id: ssh.id, publicKey: ssh.publicKey });

  const serviceUsers = new Resource(ngrok, '/service_users', 'serviceUsers');
  const su = await serviceUsers.create({ name: 'js-service', roles: ['developer_read_only'] });
  out('service_create', { id: su.id, name: su.name, active: su.active, roles: su.roles, uri: su.uri });
  const sus = await serviceUsers.list('2');
  out('service_list', { ids: sus.map(b => b.id) });
  const suu = await serviceUsers.update({ id: su.id, active: false });
  out('service_update', { active: suu.active, roles: suu.roles });
  try { await serviceUsers.create({ name: '' }); out('service_empty_name', {}); }
  catch (e) { out('service_empty_name', { errorCode: e.errorCode, statusCode: e.statusCode }); }
  const asBot = await ngrok.botUsers.get(su.id); // the same record under its old name
  out('service_as_bot', { name: asBot.name, active: asBot.active });

  const accessTokens = new Resource(ngrok, '/access_tokens', 'accessTokens');
  const at = await accessTokens.create({ description: 'js token', scopes: ['credentials:read'], allowedIps: ['127.0.0.1', '::1'] });
  out('access_token_create', { id: at.id, token: at.token, scopes: at.scopes, allowedIps: at.allowedIps });
  const byToken = new Ngrok({ apiToken: at.token, baseUrl: process.env.BASE_URL }); // an access token in place of an API key
  const seen = await byToken.credentials.list();
  out('access_token_use', { ids: seen.map(c => c.id) });
  try { await byToken.botUsers.list(); out('access_token_out_of_scope', {}); }
  catch (e) { out('access_token_out_of_scope', { errorCode: e.errorCode, statusCode: e.statusCode }); }
  const rotated = await accessTokens.post(at.id, 'rotate', { overlap: 60 });
  out('access_token_rotate', { id: rotated.id, rotatedFrom: rotated.rotatedFrom, token: rotated.token });
  const pred = await accessTokens.get(at.id);
  out('access_token_rotated', { rotatedTo: pred.rotatedTo, expiresAt: pred.expiresAt });
  try { await accessTokens.post(rotated.id, 'revoke'); } catch (e) { } // 204, no body: see del
  try { await new Ngrok({ apiToken: rotated.token, baseUrl: process.env.BASE_URL }).credentials.list(); out('access_token_revoked', {}); }
  catch (e) { out('access_token_revoked', { errorCode: e.errorCode, statusCode: e.statusCode }); }

  await del(ngrok.botUsers, su.id);
  const dest = await ngrok.eventDestinations.create({ description: 'siem', format: 'JSON', target: { webhook: { url: 'https://siem.example.com/hook' } } });
  out('destination_create', { id: dest.id, format: dest.format, url: dest.target.webhook.url, uri: dest.uri, secret: dest.signingSecret });
  const sub = await ngrok.eventSubscriptions.create({ description: 'bots', sources: [{ type: 'bot_user_created.v0' }], destinationIds: [dest.id] });
  out('subscription_create', { id: sub.id, sources: sub.sources.map(s => s.type), destinations: sub.destinations.map(d => d.id) });
  const subU = await ngrok.eventSubscriptions.update({ id: sub.id, sources: [{ type: 'bot_user_created.v0' }, { type: 'bot_user_deleted.v0' }] });
  out('subscription_update', { sources: subU.sources.map(s => s.type) });
  const src = await ngrok.eventSources.create({ subscriptionId: sub.id, type: 'role_created.v0' });
  const srcGot = await ngrok.eventSources.get({ subscriptionId: sub.id, type: 'role_created.v0' });
  const srcs = await ngrok.eventSources.list({ subscriptionId: sub.id });
  try { await ngrok.eventSources.delete({ subscriptionId: sub.id, type: 'role_created.v0' }); } catch (e) { }
  const srcsAfter = await ngrok.eventSources.list({ subscriptionId: sub.id });
  out('sources', { created: src.type, uri: srcGot.uri, listed: srcs.sources.map(s => s.type), after: srcsAfter.sources.map(s => s.type) });
  const subs = await ngrok.eventSubscriptions.list();
  out('subscription_list', { ids: subs.map(s => s.id) });
  const dests = await ngrok.eventDestinations.list();
  out('destination_list', { ids: dests.map(d => d.id), secrets: dests.filter(d => d.signingSecret).length });
  await del(ngrok.eventSubscriptions, sub.id);
  await del(ngrok.eventDestinations, dest.id);
  try { await ngrok.eventDestinations.get(dest.id); out('destination_deleted_get', {}); }
  catch (e) { out('destination_deleted_get', { statusCode: e.statusCode }); }

  await del(ngrok.sshCredentials, ssh.id);
  await del(ngrok.credentials, cred.id);
  await del(ngrok.apiKeys, key.id);
  await del(ngrok.botUsers, bot.id);
  try { await ngrok.botUsers.get(bot.id); out('deleted_get', {}); }
  catch (e) { out('deleted_get', { statusCode: e.statusCode }); }

  // Account-wide IP restrictions, through the client's own services. The script runs on
  // 127.0.0.1: its policy allows loopback, then a deny rule for 127.0.0.1 locks it out.
  const pol = await ngrok.ipPolicies.create({ description: 'office', metadata: '{"site":"hq"}' });
  out('ip_policy_create', { id: pol.id, uri: pol.uri, description: pol.description, createdAt: pol.createdAt });
  const loop4 = await ngrok.ipPolicyRules.create({ ipPolicyId: pol.id, cidr: '127.0.0.0/8', action: 'allow', description: 'loopback' });
  out('ip_rule_create', { id: loop4.id, cidr: loop4.cidr, action: loop4.action, ipPolicy: loop4.ipPolicy });
  await ngrok.ipPolicyRules.create({ ipPolicyId: pol.id, cidr: '::1/128', action: 'allow' });
  const v6 = await ngrok.ipPolicyRules.create({ ipPolicyId: pol.id, cidr: '2001:db8::/32', action: 'deny' });
  const v6u = await ngrok.ipPolicyRules.update({ id: v6.id, cidr: '2001:db8::/48' });
  out('ip_rule_update', { cidr: v6u.cidr, action: v6u.action });
  const rules = await ngrok.ipPolicyRules.list(undefined, '2');
  out('ip_rule_list', { ids: rules.map(r => r.id) });
  await del(ngrok.ipPolicyRules, v6.id);
  const xr = await ngrok.ipRestrictions.create({ type: 'api', enforced: false, ipPolicyIds: [pol.id], description: 'api from the office' });
  out('ip_restriction_create', { id: xr.id, type: xr.type, enforced: xr.enforced, ipPolicies: xr.ipPolicies });
  const xu = await ngrok.ipRestrictions.update({ id: xr.id, enforced: true, ipPolicyIds: [pol.id] });
  out('ip_restriction_update', { enforced: xu.enforced });
  const pols = await ngrok.ipPolicies.list(); // enforced, and loopback is allowed
  out('ip_policy_list', { ids: pols.map(p => p.id) });
  await ngrok.ipPolicyRules.create({ ipPolicyId: pol.id, cidr: '127.0.0.1/32', action: 'deny' });
  try { await ngrok.ipPolicies.get(pol.id); out('ip_restricted', {}); }
  catch (e) { out('ip_restricted', { errorCode: e.errorCode, statusCode: e.statusCode }); }
})().catch(e => { console.error(e); process.exit(1); });
