/*
 * gauth.h - Google OAuth2 access tokens for the gs backend.  Internal to
 * libdh.
 */
#ifndef DH_STORE_GAUTH_H
#define DH_STORE_GAUTH_H

#include "dh.h"

struct dh_gauth;

/*
 * dh_gauth_load() - read Application Default Credentials: the JSON key file
 * named by GOOGLE_APPLICATION_CREDENTIALS, else gcloud's
 * ~/.config/gcloud/application_default_credentials.json.  Two kinds are
 * understood: "service_account" (a JWT signed with its RSA key is traded
 * for a token) and "authorized_user" (its refresh token is traded).
 * Returns 0 with *out set; 0 with *out NULL when there are no credentials
 * at all; DH_EAUTH for a file that cannot be used (the message names it,
 * never its secrets); DH_ENOMEM.  *project gets the key's project_id (or
 * NULL; caller frees).
 */
int dh_gauth_load(struct dh_gauth **out, char **project, int retries, int timeout_s);
void dh_gauth_free(struct dh_gauth *g);

/*
 * dh_gauth_token() - a valid access token, fetched or refreshed (a minute
 * before expiry) as needed.  The pointer is borrowed until the next call.
 * Returns 0, DH_EAUTH when the token endpoint refuses (message with its
 * error code, never the key), DH_EIO when it cannot be reached.
 */
int dh_gauth_token(struct dh_gauth *g, const char **token);

/* Where the credentials came from, for messages. */
const char *dh_gauth_source(const struct dh_gauth *g);

#endif
