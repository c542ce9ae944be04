/* agents.c: agent registry model (docs/signing.md, "Authorization"). */
#include "lx/error.h"
#include "lx/sign.h"

#include <stdlib.h>
#include <string.h>

struct lx_agents {
    size_t max_accounts, max_agents, n_agents;
    struct owner {
        uint8_t key[LX_SIGN_PK_LEN];
        uint8_t set;
    } * owners; /* indexed by account */
    struct agent {
        uint32_t account;
        uint8_t key[LX_SIGN_PK_LEN];
        char name[LX_SIGN_NAME_LEN];
        uint64_t expiry_ns;
    } * agents;
};

lx_agents_t *lx_agents_new(size_t max_accounts, size_t max_agents) {
    lx_agents_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->owners = calloc(max_accounts ? max_accounts : 1, sizeof *r->owners);
    r->agents = calloc(max_agents ? max_agents : 1, sizeof *r->agents);
    if (!r->owners || !r->agents) {
        lx_agents_free(r);
        return NULL;
    }
    r->max_accounts = max_accounts;
    r->max_agents = max_agents;
    return r;
}

void lx_agents_free(lx_agents_t *r) {
    if (!r) return;
    free(r->owners);
    free(r->agents);
    free(r);
}

int lx_agents_set_owner(lx_agents_t *r, uint32_t account, const uint8_t key[LX_SIGN_PK_LEN]) {
    if (!r || !key) return LX_EINVAL;
    if (account >= r->max_accounts) return LX_ERANGE;
    memcpy(r->owners[account].key, key, LX_SIGN_PK_LEN);
    r->owners[account].set = 1;
    return 0;
}

static struct agent *find(const lx_agents_t *r, uint32_t account, const uint8_t *key) {
    for (size_t i = 0; i < r->n_agents; i++)
        if (r->agents[i].account == account && memcmp(r->agents[i].key, key, LX_SIGN_PK_LEN) == 0)
            return &r->agents[i];
    return NULL;
}

int lx_agents_approve(lx_agents_t *r, uint32_t account, const uint8_t agent[LX_SIGN_PK_LEN],
                      const char name[LX_SIGN_NAME_LEN], uint64_t expiry_ns) {
    if (!r || !agent) return LX_EINVAL;
    if (account >= r->max_accounts) return LX_ERANGE;
    struct agent *a = find(r, account, agent);
    if (!a) {
        if (r->n_agents >= r->max_agents) return LX_EFULL;
        a = &r->agents[r->n_agents++];
        a->account = account;
        memcpy(a->key, agent, LX_SIGN_PK_LEN);
    }
    memset(a->name, 0, sizeof a->name);
    if (name) memcpy(a->name, name, LX_SIGN_NAME_LEN);
    a->expiry_ns = expiry_ns;
    return 0;
}

int lx_agents_revoke(lx_agents_t *r, uint32_t account, const uint8_t agent[LX_SIGN_PK_LEN]) {
    if (!r || !agent) return LX_EINVAL;
    struct agent *a = find(r, account, agent);
    if (!a) return LX_ENOENT;
    *a = r->agents[--r->n_agents];
    return 0;
}

int lx_agent_action_allowed(int type) {
    return type == LX_ACT_PLACE || type == LX_ACT_CANCEL || type == LX_ACT_AMEND ||
           type == LX_ACT_CANCEL_ALL || type == LX_ACT_SCHEDULE_CANCEL;
}

int lx_agents_may(const lx_agents_t *r, const uint8_t key[LX_SIGN_PK_LEN], uint32_t account,
                  int type, uint64_t now_ns) {
    if (!r || !key) return LX_EINVAL;
    if (type < 1 || type > LX_ACT__MAX) return LX_EINVAL;
    if (account >= r->max_accounts) return LX_ENOENT;
    if (r->owners[account].set && memcmp(r->owners[account].key, key, LX_SIGN_PK_LEN) == 0)
        return 0;
    const struct agent *a = find(r, account, key);
    if (!a) return LX_ENOENT;
    if (now_ns >= a->expiry_ns) return LX_ESTATE;
    if (!lx_agent_action_allowed(type)) return LX_ESTATE;
    return 0;
}
