#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sg/urlpolicy.h"

static struct sockaddr_storage ss;

/* A socket address for an IP literal (static storage: one at a time). */
static const struct sockaddr *addr(const char *ip)
{
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        cr_assert_fail("not an IP: %s", ip);
    return (const struct sockaddr *)&ss;
}

Test(urlpolicy, address_classes)
{
    struct {
        const char *ip;
        sg_addr_class c;
    } cases[] = {
        {"8.8.8.8", SG_ADDR_PUBLIC},           {"93.184.216.34", SG_ADDR_PUBLIC},
        {"127.0.0.1", SG_ADDR_LOOPBACK},       {"127.255.0.9", SG_ADDR_LOOPBACK},
        {"10.1.2.3", SG_ADDR_PRIVATE},         {"172.16.0.1", SG_ADDR_PRIVATE},
        {"172.31.255.255", SG_ADDR_PRIVATE},   {"172.32.0.1", SG_ADDR_PUBLIC},
        {"192.168.1.1", SG_ADDR_PRIVATE},      {"169.254.169.254", SG_ADDR_LINK_LOCAL},
        {"100.64.0.1", SG_ADDR_CGNAT},         {"100.127.255.255", SG_ADDR_CGNAT},
        {"100.128.0.1", SG_ADDR_PUBLIC},       {"224.0.0.1", SG_ADDR_MULTICAST},
        {"255.255.255.255", SG_ADDR_MULTICAST}, {"0.0.0.0", SG_ADDR_UNSPECIFIED},
        {"240.0.0.1", SG_ADDR_RESERVED},       {"::1", SG_ADDR_LOOPBACK},
        {"::", SG_ADDR_UNSPECIFIED},           {"fc00::1", SG_ADDR_PRIVATE},
        {"fd12:3456::1", SG_ADDR_PRIVATE},     {"fe80::1", SG_ADDR_LINK_LOCAL},
        {"ff02::1", SG_ADDR_MULTICAST},        {"2001:4860:4860::8888", SG_ADDR_PUBLIC},
        {"::ffff:127.0.0.1", SG_ADDR_LOOPBACK}, {"::ffff:169.254.169.254", SG_ADDR_LINK_LOCAL},
        {"64:ff9b::10.0.0.1", SG_ADDR_PRIVATE}, {"::ffff:8.8.8.8", SG_ADDR_PUBLIC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(sg_addr_classify(addr(cases[i].ip)), cases[i].c, "%s: %s", cases[i].ip,
                     sg_addr_class_name(sg_addr_classify(addr(cases[i].ip))));
    cr_expect_eq(sg_addr_classify(NULL), SG_ADDR_RESERVED);
}

Test(urlpolicy, intake_policy_without_allow_list)
{
    char err[160];
    sg_allowlist *a = sg_allowlist_parse("", err, sizeof err);
    cr_assert_not_null(a);
    const char *ok[] = {"https://hooks.example.com/sg", "https://8.8.8.8/x", "https://[2001:db8::1]:8443/p",
                        "https://user:pw@example.com/p?token=1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_expect_eq(sg_callback_url_check(a, ok[i], err, sizeof err), 0, "%s: %s", ok[i], err);
    const char *bad[] = {
        "http://example.com/x",          /* http only to allowed hosts */
        "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/",
        "https://127.0.0.1/", "https://127.1/", "https://2130706433/", "https://0x7f000001/",
        "https://10.0.0.1/", "https://192.168.0.10:8443/", "https://100.64.1.1/",
        "https://[::1]/", "https://[fc00::1]/", "https://[fe80::1]/", "https://[::ffff:127.0.0.1]/",
        "https://224.0.0.1/", "https://0.0.0.0/", "ftp://example.com/", "not a url", "https://", "",
        /* hosts that decode to a control character or a delimiter (fuzz_values) */
        "https://42614128620000d0-060-10%7f/", "https://%7f4261412862/", "https://a%01b.example/",
        "https://a%20b.example/", "https://a%2fb.example/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(sg_callback_url_check(a, bad[i], err, sizeof err), -1, "accepted %s", bad[i]);
        cr_expect_neq(err[0], '\0');
    }
    cr_expect_eq(sg_callback_url_check(a, NULL, err, sizeof err), -1);
    sg_allowlist_free(a);
}

Test(urlpolicy, allow_list_names_ips_and_cidrs)
{
    char err[160];
    sg_allowlist *a = sg_allowlist_parse(" 127.0.0.1, LocalHost ,10.20.0.0/16,fd00::/8", err, sizeof err);
    cr_assert_not_null(a, "%s", err);
    cr_expect_eq(sg_callback_url_check(a, "http://127.0.0.1:9000/cb", err, sizeof err), 0, "%s", err);
    cr_expect_eq(sg_callback_url_check(a, "http://localhost:9000/cb", err, sizeof err), 0, "%s", err);
    cr_expect_eq(sg_callback_url_check(a, "https://10.20.3.4/cb", err, sizeof err), 0, "%s", err);
    cr_expect_eq(sg_callback_url_check(a, "https://10.21.3.4/cb", err, sizeof err), -1);
    cr_expect_eq(sg_callback_url_check(a, "http://127.0.0.2/cb", err, sizeof err), -1);
    cr_expect_eq(sg_callback_url_check(a, "https://[fd00::5]/cb", err, sizeof err), 0, "%s", err);

    const char *why = NULL;
    cr_expect(sg_addr_allowed(a, "x.example", addr("8.8.8.8"), &why));
    cr_expect(sg_addr_allowed(a, "x.example", addr("10.20.9.9"), &why));
    cr_expect(sg_addr_allowed(a, "localhost", addr("127.0.0.1"), &why), "allowed by name");
    cr_expect_not(sg_addr_allowed(a, "evil.example", addr("127.0.0.2"), &why), "a name resolving to loopback");
    cr_expect_str_eq(why, "loopback");
    cr_expect_not(sg_addr_allowed(a, "evil.example", addr("169.254.169.254"), &why));
    cr_expect_str_eq(why, "link_local");
    sg_allowlist_free(a);

    const char *bad[] = {"10.0.0.0/33", "::1/129", "a b", "host/8", "10.0.0.0/", "10.0.0.0/x", "exa_mple.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_null(sg_allowlist_parse(bad[i], err, sizeof err), "accepted %s", bad[i]);
    a = sg_allowlist_parse(NULL, err, sizeof err);
    cr_expect_not_null(a);
    sg_allowlist_free(a);
}

Test(urlpolicy, redaction_drops_userinfo_query_and_fragment)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"https://user:secret@example.com:8443/hook?token=abc#f", "https://example.com:8443/hook"},
        {"http://127.0.0.1:9000/cb", "http://127.0.0.1:9000/cb"},
        {"https://example.com/a/b?x=1", "https://example.com/a/b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = sg_url_redact(cases[i].in);
        cr_assert_not_null(r);
        cr_expect_str_eq(r, cases[i].out);
        cr_expect_null(strstr(r, "secret"));
        free(r);
    }
    cr_expect_null(sg_url_redact("not a url"));
    cr_expect_null(sg_url_redact(NULL));
}
