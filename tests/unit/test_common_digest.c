#include <criterion/criterion.h>
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
