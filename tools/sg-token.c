/* sg-token: prints a signed HS256 JWT for demo tooling and manual testing.
 *
 * usage: sg-token SUB [user|ops] [TTL_SECONDS]
 * The secret comes from SG_JWT_SECRET, as for the services.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/auth.h"

int main(int argc, char **argv)
{
    const char *secret = getenv("SG_JWT_SECRET");
    const char *role = argc > 2 ? argv[2] : "user";
    long ttl = argc > 3 ? strtol(argv[3], NULL, 10) : 86400;
    char *tok;

    if (argc < 2 || !secret || !*secret || (strcmp(role, "user") != 0 && strcmp(role, "ops") != 0) || ttl <= 0) {
        fprintf(stderr, "usage: SG_JWT_SECRET=... sg-token SUB [user|ops] [TTL_SECONDS]\n");
        return 2;
    }
    tok = sg_auth_make_jwt(secret, argv[1], role, ttl);
    if (!tok) {
        fprintf(stderr, "sg-token: could not sign the token\n");
        return 1;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
}
