#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sg/digest.h"

Test(digest, sha256_known_answers)
{
    char hex[SG_SHA256_HEX_LEN + 1];
    unsigned char raw[SG_SHA256_LEN];
    cr_assert_eq(sg_sha256_hex("abc", 3, hex), 0);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(sg_sha256_hex("", 0, hex), 0);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(sg_sha256("abc", 3, raw), 0);
    cr_assert_eq(raw[0], 0xba);
    cr_assert_eq(raw[31], 0xad);
}

Test(digest, hmac_sha256_rfc4231)
{
    char hex[SG_SHA256_HEX_LEN + 1];
    /* RFC 4231 test case 2. */
    cr_assert_eq(sg_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
    cr_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 1: 20 bytes of 0x0b, "Hi There". */
    unsigned char key[20];
    memset(key, 0x0b, sizeof key);
    cr_assert_eq(sg_hmac_sha256_hex(key, sizeof key, "Hi There", 8, hex), 0);
    cr_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

Test(signature, header_shape_and_round_trip)
{
    char h[SG_SIGNATURE_MAX], want[SG_SHA256_HEX_LEN + 1];
    const char *body = "{\"case_id\":\"c-1\"}";
    cr_assert_eq(sg_signature_header("s3cret", 1764979200, body, strlen(body), h), 0);
    /* v1 is the HMAC of "<t>.<body>", independently computed. */
    cr_assert_eq(sg_hmac_sha256_hex("s3cret", 6, "1764979200.{\"case_id\":\"c-1\"}", 11 + strlen(body), want), 0);
    char expect[SG_SIGNATURE_MAX];
    snprintf(expect, sizeof expect, "t=1764979200,v1=%s", want);
    cr_assert_str_eq(h, expect);
    cr_assert_eq(sg_signature_verify("s3cret", h, body, strlen(body), 1764979200 + 299, 300), SG_SIG_OK);
    cr_assert_eq(sg_signature_verify("s3cret", h, body, strlen(body), 1764979200 + 301, 300), SG_SIG_STALE);
    cr_assert_eq(sg_signature_verify("s3cret", h, body, strlen(body), 1764979200 - 301, 300), SG_SIG_STALE);
    cr_assert_eq(sg_signature_verify("other", h, body, strlen(body), 1764979200, 300), SG_SIG_MISMATCH);
    cr_assert_eq(sg_signature_verify("s3cret", h, "{}", 2, 1764979200, 300), SG_SIG_MISMATCH, "another body");
}

Test(signature, rotated_secrets_and_malformed_headers)
{
    char h[SG_SIGNATURE_MAX], two[2 * SG_SIGNATURE_MAX];
    cr_assert_eq(sg_signature_header("new", 100, "b", 1, h), 0);
    /* A sender rotating secrets may send two v1 values; one matching is enough. */
    snprintf(two, sizeof two, "t=100,v1=%064d,%s", 0, strchr(h, ',') + 1);
    cr_assert_eq(sg_signature_verify("new", two, "b", 1, 100, 300), SG_SIG_OK);
    const char *bad[] = {"", "t=100", "v1=0000000000000000000000000000000000000000000000000000000000000000",
                         "t=,v1=0000000000000000000000000000000000000000000000000000000000000000",
                         "t=1x,v1=0000000000000000000000000000000000000000000000000000000000000000",
                         "t=1,t=1,v1=0000000000000000000000000000000000000000000000000000000000000000",
                         "t=1,v1=00", "t=1,v1=ZZ00000000000000000000000000000000000000000000000000000000000000",
                         "t=1;v1=0000000000000000000000000000000000000000000000000000000000000000", "sha256=00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(sg_signature_verify("new", bad[i], "b", 1, 1, 300), SG_SIG_MALFORMED, "%s", bad[i]);
    cr_expect_eq(sg_signature_verify("new", NULL, "b", 1, 1, 300), SG_SIG_MALFORMED);
}
