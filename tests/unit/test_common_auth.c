#include <criterion/criterion.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/auth.h"

#define SECRET "test-secret-0123456789abcdef"
#define KEYS "product:key-product-1,forum:key-forum-1"

static sg_auth *auth;

static void setup(void)
{
    char err[128];
    auth = sg_auth_create(KEYS, SECRET, err, sizeof err);
    cr_assert_not_null(auth, "%s", err);
}

static void teardown(void)
{
    sg_auth_free(auth);
}

TestSuite(auth, .init = setup, .fini = teardown);

/* Checks "Bearer <tok>"; returns sg_auth_check's result, fills *p. */
static int check_bearer(const char *tok, sg_principal *p)
{
    char hdr[4096];
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    return sg_auth_check(auth, hdr, p);
}

/* A token signed by libjwt with the given claims (NULL/0 to leave out). */
static char *signed_token(jwt_alg_t alg, const char *secret, const char *sub, const char *role, long exp)
{
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_new(&jwt), 0);
    if (sub)
        jwt_add_grant(jwt, "sub", sub);
    if (role)
        jwt_add_grant(jwt, "role", role);
    if (exp)
        jwt_add_grant_int(jwt, "exp", exp);
    cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)secret, (int)strlen(secret)), 0);
    char *tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    cr_assert_not_null(tok);
    return tok;
}

static void b64url(const char *in, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
}

Test(auth, valid_user_jwt)
{
    char *tok = sg_auth_make_jwt(SECRET, "u-7", "user", 600);
    sg_principal p;
    cr_assert_eq(check_bearer(tok, &p), 0);
    cr_assert_eq(p.kind, SG_AUTH_USER);
    cr_assert_str_eq(p.id, "u-7");
    free(tok);
}

Test(auth, valid_ops_jwt)
{
    char *tok = sg_auth_make_jwt(SECRET, "ops-1", "ops", 600);
    sg_principal p;
    cr_assert_eq(check_bearer(tok, &p), 0);
    cr_assert_eq(p.kind, SG_AUTH_OPS);
    cr_assert_str_eq(p.id, "ops-1");
    free(tok);
}

Test(auth, scheme_is_case_insensitive)
{
    char *tok = sg_auth_make_jwt(SECRET, "u-7", "user", 600);
    char hdr[2048];
    sg_principal p;
    snprintf(hdr, sizeof hdr, "bearer %s", tok);
    cr_assert_eq(sg_auth_check(auth, hdr, &p), 0);
    snprintf(hdr, sizeof hdr, "Basic %s", tok);
    cr_assert_eq(sg_auth_check(auth, hdr, &p), -1);
    free(tok);
}

Test(auth, expired)
{
    char *tok = sg_auth_make_jwt(SECRET, "u-7", "user", -1);
    sg_principal p;
    cr_assert_eq(check_bearer(tok, &p), -1);
    cr_assert_eq(p.kind, 0);
    free(tok);
}

Test(auth, wrong_secret)
{
    char *tok = sg_auth_make_jwt("another-secret-0123456789", "u-7", "user", 600);
    sg_principal p;
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
}

Test(auth, alg_none)
{
    char h[128], c[256], tok[512], claims[128];
    sg_principal p;
    snprintf(claims, sizeof claims, "{\"sub\":\"u-7\",\"role\":\"ops\",\"exp\":%ld}", (long)time(NULL) + 600);
    b64url("{\"alg\":\"none\"}", h);
    b64url(claims, c);
    snprintf(tok, sizeof tok, "%s.%s.", h, c);
    cr_assert_eq(check_bearer(tok, &p), -1);
    snprintf(tok, sizeof tok, "%s.%s", h, c);
    cr_assert_eq(check_bearer(tok, &p), -1);
    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", h);
    snprintf(tok, sizeof tok, "%s.%s.", h, c);
    cr_assert_eq(check_bearer(tok, &p), -1);
}

Test(auth, other_hmac_algorithms)
{
    sg_principal p;
    long exp = (long)time(NULL) + 600;
    char *tok = signed_token(JWT_ALG_HS512, SECRET, "u-7", "user", exp);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
    tok = signed_token(JWT_ALG_HS384, SECRET, "u-7", "user", exp);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
    tok = signed_token(JWT_ALG_HS256, SECRET, "u-7", "user", exp); /* control */
    cr_assert_eq(check_bearer(tok, &p), 0);
    free(tok);
}

Test(auth, missing_claims)
{
    sg_principal p;
    long exp = (long)time(NULL) + 600;
    char *tok = signed_token(JWT_ALG_HS256, SECRET, "u-7", "user", 0);
    cr_assert_eq(check_bearer(tok, &p), -1, "exp is required");
    free(tok);
    tok = signed_token(JWT_ALG_HS256, SECRET, NULL, "user", exp);
    cr_assert_eq(check_bearer(tok, &p), -1, "sub is required");
    free(tok);
    tok = signed_token(JWT_ALG_HS256, SECRET, "u-7", NULL, exp);
    cr_assert_eq(check_bearer(tok, &p), -1, "role is required");
    free(tok);
}

Test(auth, bad_role_and_sub)
{
    sg_principal p;
    char sub[200];
    long exp = (long)time(NULL) + 600;
    char *tok = signed_token(JWT_ALG_HS256, SECRET, "u-7", "admin", exp);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
    tok = signed_token(JWT_ALG_HS256, SECRET, "u-7", "OPS", exp);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
    tok = signed_token(JWT_ALG_HS256, SECRET, "", "user", exp);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
    memset(sub, 'a', 129);
    sub[129] = '\0';
    tok = signed_token(JWT_ALG_HS256, SECRET, sub, "user", exp);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
    sub[128] = '\0';
    tok = signed_token(JWT_ALG_HS256, SECRET, sub, "user", exp);
    cr_assert_eq(check_bearer(tok, &p), 0);
    cr_assert_eq(strlen(p.id), 128);
    free(tok);
}

Test(auth, exp_as_string_refused)
{
    sg_principal p;
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    jwt_add_grants_json(jwt, "{\"sub\":\"u-7\",\"role\":\"user\",\"exp\":\"99999999999\"}");
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    cr_assert_eq(check_bearer(tok, &p), -1);
    free(tok);
}

static int check_claims(const char *claims)
{
    sg_principal p;
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    jwt_add_grants_json(jwt, claims);
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    int rc = check_bearer(tok, &p);
    free(tok);
    return rc;
}

/* RFC 7519 NumericDates may be non-integers; a not-yet-valid token is
 * refused whatever the number's form (found by tests/fuzz/fuzz_auth). */
Test(auth, numeric_dates_of_any_json_number)
{
    cr_assert_eq(check_claims("{\"sub\":\"u\",\"role\":\"user\",\"exp\":4102444800.5}"), 0);
    cr_assert_eq(check_claims("{\"sub\":\"u\",\"role\":\"user\",\"exp\":4102444800,\"nbf\":4102444000.5}"), -1);
    cr_assert_eq(check_claims("{\"sub\":\"u\",\"role\":\"user\",\"exp\":4102444800,\"nbf\":\"1\"}"), -1);
    cr_assert_eq(check_claims("{\"sub\":\"u\",\"role\":\"user\",\"exp\":4102444800,\"nbf\":1000.5}"), 0);
}

Test(auth, tampered_payload)
{
    sg_principal p;
    char *tok = sg_auth_make_jwt(SECRET, "u-7", "user", 600);
    char c[256], claims[128], forged[1024];
    snprintf(claims, sizeof claims, "{\"sub\":\"u-7\",\"role\":\"ops\",\"exp\":%ld}", (long)time(NULL) + 600);
    b64url(claims, c);
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - tok), tok, c, dot2);
    cr_assert_eq(check_bearer(forged, &p), -1);
    free(tok);
}

Test(auth, garbage)
{
    sg_principal p;
    const char *bad[] = {"", "Bearer", "Bearer ", "Bearer    ", "Bearer a.b.c", "Bearer ...", "Bearer x",
                         "Bearer eyJhbGciOiJIUzI1NiJ9.e30.", "Token key-product-1", "key-product-1",
                         "Bearer key-product-1x", "Bearer key-product-", "Bearer \xff\xfe.\x01."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sg_auth_check(auth, bad[i], &p), -1, "accepted '%s'", bad[i]);
        cr_assert_eq(p.kind, 0);
    }
    cr_assert_eq(sg_auth_check(auth, NULL, &p), -1);
}

Test(auth, api_keys)
{
    sg_principal p;
    cr_assert_eq(sg_auth_check(auth, "Bearer key-product-1", &p), 0);
    cr_assert_eq(p.kind, SG_AUTH_CLIENT);
    cr_assert_str_eq(p.id, "product");
    cr_assert_eq(sg_auth_check(auth, "Bearer key-forum-1", &p), 0);
    cr_assert_str_eq(p.id, "forum");
    cr_assert_eq(sg_auth_check(auth, "Bearer key-forum-2", &p), -1);
    cr_assert_eq(sg_auth_check(auth, "Bearer KEY-FORUM-1", &p), -1);
}

Test(auth, no_clients_configured)
{
    char err[128];
    sg_principal p;
    sg_auth *a = sg_auth_create(NULL, SECRET, err, sizeof err);
    cr_assert_not_null(a);
    cr_assert_eq(sg_auth_check(a, "Bearer key-product-1", &p), -1);
    sg_auth_free(a);
    a = sg_auth_create("", SECRET, err, sizeof err);
    cr_assert_not_null(a);
    sg_auth_free(a);
}

Test(auth, bad_key_specs)
{
    const char *bad[] = {"product", "product:", ":key-product-1", "pro duct:key-product-1", "product:short",
                         "a:key-aaaaaaa,a:key-bbbbbbb", "a:key-aaaaaaa,b:key-aaaaaaa", "a:key-aaaaaaa,",
                         ",a:key-aaaaaaa", "a:key aaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        sg_auth *a = sg_auth_create(bad[i], SECRET, err, sizeof err);
        cr_assert_null(a, "accepted '%s'", bad[i]);
        cr_assert_neq(err[0], '\0');
    }
}

Test(auth, make_jwt_shape)
{
    char *tok = sg_auth_make_jwt(SECRET, "u-1", "user", 60);
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    cr_assert_eq(jwt_get_alg(jwt), JWT_ALG_HS256);
    cr_assert_str_eq(jwt_get_grant(jwt, "sub"), "u-1");
    cr_assert_str_eq(jwt_get_grant(jwt, "role"), "user");
    long exp = jwt_get_grant_int(jwt, "exp");
    cr_assert(exp > time(NULL) + 50 && exp <= time(NULL) + 60);
    jwt_free(jwt);
    free(tok);
}

Test(auth, scoped_keys)
{
    char err[160] = "";
    sg_principal p;
    sg_auth *a = sg_auth_create("forum:key-forum-1:report:forum_post|report:comment,"
                                "crm:key-crm-0001:profiles|activity,all:key-all-0001,any:key-any-0001:report:*",
                                SECRET, err, sizeof err);
    cr_assert_not_null(a, "%s", err);

    cr_assert_eq(sg_auth_check(a, "Bearer key-forum-1", &p), 0);
    cr_assert_str_eq(p.id, "forum");
    cr_assert(sg_principal_may(&p, "report:forum_post"));
    cr_assert(sg_principal_may(&p, "report:comment"));
    cr_assert_not(sg_principal_may(&p, "report:listing"));
    cr_assert_not(sg_principal_may(&p, "profiles"));
    cr_assert_not(sg_principal_may(&p, "activity"));
    cr_assert_not(sg_principal_may(&p, "report:Bad Type"));

    cr_assert_eq(sg_auth_check(a, "Bearer key-crm-0001", &p), 0);
    cr_assert(sg_principal_may(&p, "profiles"));
    cr_assert(sg_principal_may(&p, "activity"));
    cr_assert_not(sg_principal_may(&p, "report:comment"));

    cr_assert_eq(sg_auth_check(a, "Bearer key-all-0001", &p), 0, "an entry without scopes has them all");
    cr_assert(sg_principal_may(&p, "report:listing") && sg_principal_may(&p, "profiles"));

    cr_assert_eq(sg_auth_check(a, "Bearer key-any-0001", &p), 0);
    cr_assert(sg_principal_may(&p, "report:listing"));
    cr_assert_not(sg_principal_may(&p, "activity"));

    sg_principal person = {.kind = SG_AUTH_USER, .id = "u-1"};
    cr_assert(sg_principal_may(&person, "report:listing"), "people are governed by roles");
    sg_principal nobody = {0};
    cr_assert_not(sg_principal_may(&nobody, "profiles"));
    cr_assert_not(sg_principal_may(NULL, "profiles"));
    sg_auth_free(a);
}

Test(auth, bad_scopes)
{
    const char *bad[] = {"a:key-aaaaaaa:", "a:key-aaaaaaa:report", "a:key-aaaaaaa:report:", "a:key-aaaaaaa:admin",
                         "a:key-aaaaaaa:profiles|", "a:key-aaaaaaa:report:Comment", "a:key-aaaaaaa:|profiles",
                         "a:key-aaaaaaa:report:abcdefghijabcdefghijabcdefghijabc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[160] = "";
        sg_auth *a = sg_auth_create(bad[i], SECRET, err, sizeof err);
        cr_assert_null(a, "accepted '%s'", bad[i]);
        cr_assert_neq(err[0], '\0');
    }
}
