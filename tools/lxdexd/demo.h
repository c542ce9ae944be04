/*
 * demo.h: the demo flow client of `lxdexd --demo` (`make run`).
 */
#ifndef LXDEXD_DEMO_H
#define LXDEXD_DEMO_H

#include <stdint.h>
#include <stdio.h>
#include "lx/config.h"

typedef struct lx_demo lx_demo_t;

/* Starts a thread that connects to 127.0.0.1:port (or the configured
 * binary host), logs on as dev accounts and trades every market. */
int lx_demo_start(lx_demo_t **out, const lx_config_t *cfg, uint16_t port, FILE *log);
/* Stops and joins it. NULL is a no-op. */
void lx_demo_stop(lx_demo_t *d);

#endif
