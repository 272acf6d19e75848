// What each route the client calls takes and answers, checked against the document at compile
// time: when the backend changes the body or the answer of one of these routes (and the types
// are regenerated), the line for it stops compiling and names the route. The client's methods
// use the aliases of `model.ts`; this table ties those aliases to the routes.

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
type Holds<T extends true> = T;

export type RoutesMatchTheDocument = [
  Holds<Same<Answer<'/api/config', 'get'>, M.ServerConfig>>,
  Holds<Same<Body<'/api/auth/register', 'post'>, M.Credentials>>,
  Holds<Same<Answer<'/api/auth/register', 'post'>, M.User>>,
  Holds<Same<Body<'/api/auth/login', 'post'>, M.Credentials>>,
  Holds<Same<Answer<'/api/auth/login', 'post'>, M.User>>,
  Holds<Same<Answer<'/api/auth/me', 'get'>, M.Me>>,
  Holds<Same<Body<'/api/auth/me', 'patch'>, M.UpdateMe>>,
  Holds<Same<Answer<'/api/auth/me', 'patch'>, M.User>>,
  Holds<Same<Body<'/api/auth/password', 'post'>, M.PasswordChange>>,
  Holds<Same<Answer<'/api/tokens', 'get'>, M.Schemas['TokenList']>>,
  Holds<Same<Body<'/api/tokens', 'post'>, M.NewToken>>,
  Holds<Same<Answer<'/api/tokens', 'post'>, M.CreatedToken>>,
  Holds<Same<Body<'/api/admin/settings', 'put'>, M.Settings>>,
  Holds<Same<Answer<'/api/admin/users', 'get'>, M.Schemas['AdminUserList']>>,
  Holds<Same<Body<'/api/admin/users/{id}', 'patch'>, M.Schemas['UserPatch']>>,
  Holds<Same<Answer<'/api/admin/users/{id}', 'patch'>, M.AdminUser>>,
  Holds<Same<Answer<'/api/targets', 'get'>, M.Schemas['TargetList']>>,
  Holds<Same<Body<'/api/targets', 'post'>, M.Schemas['TargetInput']>>,
  Holds<Same<Answer<'/api/targets', 'post'>, M.Schemas['Target']>>,
  Holds<Same<Answer<'/api/targets/{id}', 'get'>, M.Schemas['Target']>>,
  Holds<Same<Body<'/api/targets/{id}', 'put'>, M.Schemas['TargetInput']>>,
  Holds<Same<Answer<'/api/targets/{id}', 'put'>, M.Schemas['Target']>>,
  Holds<Same<Body<'/api/targets/test', 'post'>, M.Schemas['TargetInput']>>,
  Holds<Same<Answer<'/api/targets/import', 'post'>, M.ImportSummary>>,
  Holds<Same<Answer<'/api/channels', 'get'>, M.Schemas['ChannelList']>>,
  Holds<Same<Answer<'/api/channels/telegram/link', 'post'>, M.TelegramLink>>,
  Holds<Same<Body<'/api/channels/email', 'post'>, M.NewEmailChannel>>,
  Holds<Same<Answer<'/api/channels/email', 'post'>, M.Channel>>,
  Holds<Same<Body<'/api/channels/{id}', 'patch'>, M.ChannelPatch>>,
  Holds<Same<Answer<'/api/channels/{id}', 'patch'>, M.Channel>>,
  Holds<Same<Answer<'/api/targets/{id}/channels', 'get'>, M.TargetChannels>>,
  Holds<Same<Body<'/api/targets/{id}/channels', 'put'>, M.TargetChannels>>,
  Holds<Same<Answer<'/api/targets/{id}/channels', 'put'>, M.TargetChannels>>,
];
