/**
 * Optional bearer-token protection of the REST catalog. The operator sets
 * one shared token; every route then requires `Authorization: Bearer
 * <token>`, and a missing or wrong one is answered 401 before anything
 * else is looked at (an unknown path included, so probing learns nothing).
 *
 * Clients that only speak OAuth2 client credentials (pyiceberg's and Java's
 * `credential=ID:SECRET`) get the token from `POST /v1/oauth/tokens` by
 * presenting it as the client secret; the answer is the same token, with no
 * expiry, so they never need to refresh it. Token exchange (what Java
 * clients send to renew a token they already hold) is answered the same way.
 */
import { RestError } from "./errors.ts";

const encoder = new TextEncoder();

/** Compares in time independent of where the strings first differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i];
  return diff === 0;
}

/** Throws 401 unless the request carries the bearer token (no-op without a token). */
export function checkBearer(request: Request, token: string | undefined): void {
  if (token === undefined) return;
  const header = request.headers.get("authorization");
  if (header === null) {
    throw new RestError(
      401,
      "NotAuthorizedException",
      "this catalog requires a bearer token (Authorization: Bearer <token>)",
    );
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null || !sameSecret(match[1], token)) {
    throw new RestError(401, "NotAuthorizedException", "the bearer token is not valid");
  }
}

/** An OAuth2 error answer (RFC 6749 section 5.2), the shape OAuth clients parse. */
function oauthError(status: number, error: string, description: string): Response {
  return Response.json({ error, error_description: description }, {
    status,
    headers: { "cache-control": "no-store" },
  });
}

/** `POST /v1/oauth/tokens`: form-encoded client credentials or token exchange. */
export async function tokenEndpoint(
  request: Request,
  token: string | undefined,
): Promise<Response> {
  if (token === undefined) {
    return oauthError(
      400,
      "invalid_request",
      "this catalog has no authentication: connect without a credential or token",
    );
  }
  let form: URLSearchParams;
  try {
    form = new URLSearchParams(await request.text());
  } catch {
    return oauthError(400, "invalid_request", "the body must be form-encoded");
  }
  const grant = form.get("grant_type");
  let secret: string | null = null;
  if (grant === "client_credentials") {
    secret = form.get("client_secret");
    const basic = /^Basic\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
    if (secret === null && basic !== null) {
      try {
        const decoded = atob(basic[1]);
        secret = decoded.slice(decoded.indexOf(":") + 1);
      } catch {
        return oauthError(400, "invalid_request", "the Basic authorization is not base64");
      }
    }
  } else if (grant === "urn:ietf:params:oauth:grant-type:token-exchange") {
    secret = form.get("subject_token");
  } else {
    return oauthError(
      400,
      "unsupported_grant_type",
      "grant_type must be client_credentials (or token exchange of a token already issued)",
    );
  }
  if (secret === null || !sameSecret(secret, token)) {
    return oauthError(401, "invalid_client", "the client credentials are not valid");
  }
  return Response.json({
    access_token: token,
    token_type: "bearer",
    issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
  }, { headers: { "cache-control": "no-store" } });
}
