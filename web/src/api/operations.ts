// What each route the client calls takes and answers, checked against the document at compile
// time: when the backend changes the body or the answer of one of these routes (and the types
// are regenerated), `RoutesMatchTheDocument` stops compiling and its error names the route and
// what differs. The client's methods use the aliases of `model.ts`; this table ties those aliases
// to the routes.

import type * as M from './model';
import type { paths } from './schema';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The JSON a route answers with on success (200 or 201), as the document describes it. */
export type Answer<P extends keyof paths, K extends Method> = paths[P][K] extends { responses: infer R }
  ? {
      [S in keyof R]: S extends 200 | 201 ? (R[S] extends { content: { 'application/json': infer T } } ? T : never) : never;
    }[keyof R]
  : never;

/** The JSON body a route takes. */
export type Body<P extends keyof paths, K extends Method> = paths[P][K] extends {
  requestBody: { content: { 'application/json': infer T } };
}
  ? T
  : never;

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * Each route the client calls, by path and method: the `body` it sends and the `answer` it takes
 * (a route that answers 204 or takes a non-JSON body leaves that one out).
 */
type Routes = {
  '/api/config': { get: { answer: M.ServerConfig } };
  '/api/auth/register': { post: { body: M.Credentials; answer: M.User } };
  '/api/auth/login': { post: { body: M.Credentials; answer: M.LoginAnswer } };
  '/api/auth/me': { get: { answer: M.Me }; patch: { body: M.UpdateMe; answer: M.User } };
  '/api/auth/password': { post: { body: M.PasswordChange } };
  '/api/tokens': { get: { answer: M.Schemas['TokenList'] }; post: { body: M.NewToken; answer: M.CreatedToken } };
  '/api/admin/settings': { put: { body: M.Settings } };
  '/api/admin/users': { get: { answer: M.Schemas['AdminUserList'] } };
  '/api/admin/users/{id}': { patch: { body: M.Schemas['UserPatch']; answer: M.AdminUser } };
  '/api/targets': { get: { answer: M.Schemas['TargetList'] }; post: { body: M.Schemas['TargetInput']; answer: M.Schemas['Target'] } };
  '/api/targets/{id}': { get: { answer: M.Schemas['Target'] }; put: { body: M.Schemas['TargetInput']; answer: M.Schemas['Target'] } };
  '/api/targets/test': { post: { body: M.Schemas['TargetInput'] } };
  '/api/targets/{id}/pings': { get: { answer: M.PingList } };
  '/api/targets/{id}/baseline': { get: { answer: M.BaselineBand } };
  '/api/targets/{id}/ping-token': { post: { answer: M.Schemas['Target'] } };
  '/api/targets/import': { post: { answer: M.ImportSummary } };
  '/api/channels': { get: { answer: M.Schemas['ChannelList'] }; post: { body: M.Schemas['NewChannel']; answer: M.Schemas['Channel'] } };
  '/api/channels/kinds': { get: { answer: M.ChannelKindInfo[] } };
  '/api/channels/telegram/link': { post: { answer: M.TelegramLink } };
  '/api/channels/email': { post: { body: M.NewEmailChannel; answer: M.Schemas['Channel'] } };
  '/api/channels/{id}': { patch: { body: M.Schemas['ChannelPatch']; answer: M.Schemas['Channel'] } };
  '/api/channels/{id}/test': { post: { answer: M.ChannelTestResult } };
  '/api/targets/{id}/channels': { get: { answer: M.TargetChannels }; put: { body: M.TargetChannels; answer: M.TargetChannels } };
  '/api/escalation-policies': { get: { answer: M.Schemas['EscalationPolicyList'] }; post: { body: M.EscalationPolicyBody; answer: M.EscalationPolicy } };
  '/api/escalation-policies/{id}': { get: { answer: M.EscalationPolicy }; put: { body: M.EscalationPolicyBody; answer: M.EscalationPolicy } };
  '/api/organisations': { get: { answer: M.Schemas['MembershipList'] }; post: { body: M.Schemas['NewOrganisation']; answer: M.Membership } };
  '/api/session/organisation': { put: { body: M.Schemas['Switch']; answer: M.Membership } };
  '/api/organisation': { get: { answer: M.Organisation }; patch: { body: M.OrganisationPatch; answer: M.Organisation } };
  '/api/organisation/transfer': { post: { body: M.Schemas['Transfer']; answer: M.Organisation } };
  '/api/organisation/members': { get: { answer: M.Schemas['MemberList'] } };
  '/api/organisation/members/{user_id}': { patch: { body: M.Schemas['RoleChange']; answer: M.Member } };
  '/api/organisation/invitations': { get: { answer: M.Schemas['InvitationList'] }; post: { body: M.NewInvitation; answer: M.CreatedInvitation } };
  '/api/invitations/{token}': { get: { answer: M.InvitationPreview } };
  '/api/invitations/{token}/accept': { post: { answer: M.Membership } };
  '/api/organisation/audit': { get: { answer: M.AuditPage } };
  '/api/incident-groups': { get: { answer: M.IncidentGroupList } };
  '/api/incident-groups/{id}': { get: { answer: M.IncidentGroup } };
  '/api/tag-dependencies': { get: { answer: M.TagDependencyList }; put: { body: M.TagDependency; answer: M.TagDependency } };
  '/api/ack/{token}': { get: { answer: M.AckInfo }; post: { answer: M.AckInfo } };
  '/api/auth/login/2fa': { post: { body: M.SecondFactor; answer: M.User } };
  '/api/account/2fa': { get: { answer: M.TwoFactorStatus } };
  '/api/account/2fa/setup': { post: { answer: M.TwoFactorSetup } };
  '/api/account/2fa/enable': { post: { body: M.TwoFactorCode; answer: M.TwoFactorEnabled } };
  '/api/account/2fa/recovery-codes': { post: { body: M.TwoFactorCode; answer: M.RecoveryCodes } };
  '/api/account/2fa/disable': { post: { body: M.TwoFactorDisable } };
};

/** Where the client's side of one route differs from the document: `never` when it does not. */
type Mismatch<P, K, S> = P extends keyof paths
  ? K extends Method
    ?
        | (S extends { body: infer B } ? (Same<Body<P, K>, B> extends true ? never : `${K} ${P}: body`) : never)
        | (S extends { answer: infer A } ? (Same<Answer<P, K>, A> extends true ? never : `${K} ${P}: answer`) : never)
    : `${K & string} ${P}: not a method`
  : `${P & string}: not a route of the document`;

type Mismatches = { [P in keyof Routes]: { [K in keyof Routes[P]]: Mismatch<P, K, Routes[P][K]> }[keyof Routes[P]] }[keyof Routes];
type None<T extends never> = T;

/** Compiles only while every route of {@link Routes} matches the document; else the error names those that do not. */
export type RoutesMatchTheDocument = None<Mismatches>;
