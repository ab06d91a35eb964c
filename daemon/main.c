/* daemon/main.c: raterd's entry point: parse_argv -> setup -> run -> teardown. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "config/config.h"
#include "server.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_CONFIG "/etc/raterd/raterd.conf"

typedef struct {
        const char *config;
        const char *state_dir;
        bool check;
} Args;

static void usage(FILE *f) {
        fprintf(f,
                "Usage: raterd [OPTIONS]\n"
                "Service-quality monitoring daemon: RATER, CSAT and NPS indices from ZeroMQ events.\n\n"
                "  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
                "  -s, --state-dir DIR   storage directory (overrides [daemon] state_dir)\n"
                "      --check-config    validate the configuration and exit\n"
                "  -V, --version         print the version and exit\n"
                "  -h, --help            print this help and exit\n");
}

/* Returns 0 to go on, 1 to exit successfully, -1 for a usage error. */
static int parse_argv(int argc, char **argv, Args *a) {
        enum { ARG_CHECK = 0x100 };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"state-dir", required_argument, NULL, 's'},
                {"check-config", no_argument, NULL, ARG_CHECK},
                {"version", no_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c;

        *a = (Args){.config = DEFAULT_CONFIG};
        while ((c = getopt_long(argc, argv, "c:s:Vh", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        a->config = optarg;
                        break;
                case 's':
                        if (!*optarg) {
                                fprintf(stderr, "raterd: --state-dir must not be empty\n");
                                return -1;
                        }
                        a->state_dir = optarg;
                        break;
                case ARG_CHECK:
                        a->check = true;
                        break;
                case 'V':
                        printf("raterd %s\n", RATERD_VERSION);
                        return 1;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return -1;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "raterd: unexpected argument '%s'\n", argv[optind]);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(config_deinitp) Config config = {0};
        _cleanup_(server_freep) Server *server = NULL;
        char err[1024] = "";
        sigset_t mask;
        Args args;
        int r;

        r = parse_argv(argc, argv, &args);
        if (r)
                return r > 0 ? EXIT_SUCCESS : 2;
        log_setup();

        if (config_init(&config) < 0) {
                fprintf(stderr, "raterd: out of memory\n");
                return EXIT_FAILURE;
        }
        r = config_load(&config, args.config, err, sizeof(err));
        if (r) {
                log_error("%s", err);
                return EXIT_FAILURE;
        }
        if (args.state_dir) {
                free(config.state_dir);
                config.state_dir = strdup(args.state_dir);
                if (!config.state_dir)
                        return EXIT_FAILURE;
        }
        if (args.check) {
                printf("%s: configuration OK (%zu rules)\n", args.config, config.n_rules);
                return EXIT_SUCCESS;
        }

        /* Block before any thread exists (ZeroMQ's I/O threads inherit the
         * mask), so these signals only ever arrive through the signalfd. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = server_new(&server, &config, err, sizeof(err));
        if (r) {
                log_error("startup failed: %s", *err ? err : r < 0 ? strerror(-r) : "storage error");
                sd_notifyf(0, "STATUS=startup failed: %s", err);
                return EXIT_FAILURE;
        }
        r = server_run(server);
        if (r < 0) {
                log_error("fatal: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
