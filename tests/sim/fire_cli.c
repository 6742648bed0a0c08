/*
 * fire_cli: the `fire` subcommand. See fire_cli.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "fire_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "apps.h"
#include "core/buffer.h"
#include "deliveries.h"
#include "outbound.h"

/* Long enough for the simulator's worst case: 6 attempts of 10 s to each
 * subscription; the simulator bounds its own side (sim.h). */
#define FIRE_TIMEOUT_MS 150000L

static int usage(void)
{
    fprintf(stderr, "usage: haravan-sim fire TOPIC --sample FILE [--url SIM_URL] [--org ORG]\n"
                    "  FILE: a name in the simulator's samples directory, or a path with '/'\n"
                    "  SIM_URL: default $HARAVAN_SIM_URL\n");
    return 2;
}

/* Reads a local sample file and makes it the request's "body". */
static int add_local_body(cJSON *request_body, const char *path)
{
    char error[300];
    buffer text = BUFFER_INIT;
    const char *slash = strrchr(path, '/');
    char directory[4096];
    snprintf(directory, sizeof directory, "%.*s", (int)(slash - path), path);
    if (slash == path)
        snprintf(directory, sizeof directory, "/");
    char *body = NULL;
    if (sim_sample_read(directory, slash + 1, &text, error, sizeof error) == 0)
        body = sim_sample_body(text.data, text.length, error, sizeof error);
    buffer_free(&text);
    if (body == NULL) {
        fprintf(stderr, "haravan-sim fire: %s\n", error);
        return -1;
    }
    int added = cJSON_AddStringToObject(request_body, "body", body) != NULL;
    free(body);
    return added ? 0 : -1;
}

static cJSON *build_request(const char *topic, const char *sample, const char *org)
{
    cJSON *request_body = cJSON_CreateObject();
    int built = cJSON_AddStringToObject(request_body, "topic", topic) != NULL;
    if (built && org != NULL)
        built = cJSON_AddStringToObject(request_body, "org_id", org) != NULL;
    if (built && strchr(sample, '/') != NULL)
        built = add_local_body(request_body, sample) == 0;
    else if (built)
        built = cJSON_AddStringToObject(request_body, "sample", sample) != NULL;
    if (!built) {
        cJSON_Delete(request_body);
        return NULL;
    }
    return request_body;
}

/* 1 when the answer lists at least one delivery and every one got a 2xx. */
static int all_delivered(const char *answer)
{
    cJSON *document = cJSON_Parse(answer);
    const cJSON *deliveries = cJSON_GetObjectItemCaseSensitive(document, "deliveries");
    int delivered = cJSON_GetArraySize(deliveries) > 0;
    const cJSON *delivery = NULL;
    cJSON_ArrayForEach(delivery, deliveries)
    {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(delivery, "status");
        if (!cJSON_IsNumber(status) || status->valuedouble < 200 || status->valuedouble > 299)
            delivered = 0;
    }
    cJSON_Delete(document);
    return delivered;
}

int sim_fire_command(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return usage();
    const char *topic = argv[1];
    const char *sample = NULL;
    const char *url = getenv("HARAVAN_SIM_URL");
    const char *org = NULL;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--sample") == 0)
            sample = argv[i + 1];
        else if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--org") == 0)
            org = argv[i + 1];
        else
            return usage();
    }
    if (sample == NULL || url == NULL || url[0] == '\0' || !sim_topic_acceptable(topic))
        return usage();
    cJSON *request_body = build_request(topic, sample, org);
    char *text = request_body != NULL ? cJSON_PrintUnformatted(request_body) : NULL;
    cJSON_Delete(request_body);
    if (text == NULL)
        return 1;
    buffer endpoint = BUFFER_INIT;
    sim_outbound_result result;
    memset(&result, 0, sizeof result);
    const char *const headers[] = {"Content-Type: application/json", NULL};
    int status = 1;
    if (buffer_printf(&endpoint, "%s/sim/fire", url) == 0 &&
        sim_outbound_send("POST", endpoint.data, headers, text, strlen(text), FIRE_TIMEOUT_MS,
                          &result) == 0) {
        printf("%s\n", result.body.data);
        status = result.status == 200 && all_delivered(result.body.data) ? 0 : 1;
        if (status != 0)
            fprintf(stderr, "haravan-sim fire: HTTP %ld; not every delivery got a 2xx\n",
                    result.status);
    } else {
        fprintf(stderr, "haravan-sim fire: %s: %s\n", endpoint.data != NULL ? endpoint.data : url,
                result.error);
    }
    sim_outbound_result_free(&result);
    buffer_free(&endpoint);
    free(text);
    return status;
}
