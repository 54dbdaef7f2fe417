/* The order in which a set of containers is started: a compose service
 * after the services its com.docker.compose.depends_on label names. */
#ifndef RB_CTR_ORDER_H
#define RB_CTR_ORDER_H

#include <cjson/cJSON.h>

#include <rbhost/rbhost.h>

/* Reorders `inspects` (an array of inspect documents) in place so that
 * dependencies come first; containers without such labels keep their
 * order. A dependency cycle is logged and broken at its first container. */
int rb_ctr_order(const rb_host_api *host, cJSON *inspects);

/* 1 when the depends_on label of container `inspect` names `service`. */
int rb_ctr_depends_on(const cJSON *inspect, const char *service);

#endif
