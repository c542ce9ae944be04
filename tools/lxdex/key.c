/*
 * key.c: lxdex key gen / key show (ed25519 identities, docs/signing.md).
 *
 * A secret key file is one line: the 64-byte libsodium ed25519 secret key
 * (32-byte seed followed by the 32-byte public key) as 128 lowercase hex
 * digits, then a newline. It is created with mode 0600 and never overwritten.
 */
#include "lxdex.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char lxdex_key_help[] =
    "key gen [--out FILE]: makes a new ed25519 key pair. With --out, writes the\n"
    "secret key (128 hex digits and a newline) to FILE, created with mode 0600\n"
    "(an existing FILE is never overwritten), and prints the public key in hex.\n"
    "Without --out, prints 'secret <hex>' and 'public <hex>' on stdout.\n"
    "\n"
    "key show FILE: reads a secret key file, checks it, prints its public key.\n"
    "\n"
    "Exit status: 0 on success, 1 on an error, 2 on a usage error.\n";

static void hex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

int lxdex_key_gen(int argc, char **argv) {
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "lxdex key gen: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "lxdex key gen: libsodium failed to initialise\n");
        return 1;
    }
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    char skhex[2 * sizeof sk + 2], pkhex[2 * sizeof pk + 1];
    hex(skhex, sk, sizeof sk);
    hex(pkhex, pk, sizeof pk);
    sodium_memzero(sk, sizeof sk);
    int rc = 0;
    if (!out) {
        printf("secret %s\npublic %s\n", skhex, pkhex);
    } else {
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        size_t n = strlen(skhex);
        skhex[n] = '\n';
        if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, skhex, n + 1) != (ssize_t)(n + 1) ||
            fsync(fd) != 0) {
            fprintf(stderr, "lxdex key gen: %s: %s\n", out, strerror(errno));
            if (fd >= 0) unlink(out);
            rc = 1;
        } else {
            printf("%s\n", pkhex);
        }
        if (fd >= 0) close(fd);
    }
    sodium_memzero(skhex, sizeof skhex);
    return rc;
}

int lxdex_key_load(const char *path, uint8_t sk[64], uint8_t pk[32]) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "lxdex: key file %s: %s\n", path, strerror(errno));
        return 1;
    }
    char line[256];
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t got = 0;
    const char *end = NULL;
    if (ok && sodium_init() >= 0 &&
        sodium_hex2bin(sk, 64, line, strlen(line), NULL, &got, &end) == 0 && got == 64 &&
        (*end == '\n' || *end == 0)) {
        /* the public half stored in the secret key must be the seed's */
        uint8_t seed[32], pk2[32], sk2[64];
        crypto_sign_ed25519_sk_to_seed(seed, sk);
        crypto_sign_seed_keypair(pk2, sk2, seed);
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        ok = memcmp(pk, pk2, 32) == 0;
        sodium_memzero(seed, sizeof seed);
        sodium_memzero(sk2, sizeof sk2);
    } else {
        ok = 0;
    }
    sodium_memzero(line, sizeof line);
    if (!ok) {
        sodium_memzero(sk, 64);
        fprintf(stderr, "lxdex: %s: not an lxdex secret key file (make one with lxdex keygen)\n",
                path);
        return 1;
    }
    return 0;
}

int lxdex_key_show(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: lxdex key show FILE\n");
        return 2;
    }
    uint8_t sk[64], pk[32];
    if (lxdex_key_load(argv[1], sk, pk)) return 1;
    sodium_memzero(sk, sizeof sk);
    char pkhex[65];
    hex(pkhex, pk, sizeof pk);
    printf("%s\n", pkhex);
    return 0;
}
