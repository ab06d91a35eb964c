/* daemon/util/endpoints.h: comma-separated endpoint lists and ipc sockets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Binds (bind = true) or connects sock to every endpoint of the comma
 * separated list (blanks around items ignored, empty list allowed). An ipc
 * endpoint being bound gets its parent directory created (0700) and the
 * socket file mode 0600: owner only. Returns 0, or a negative errno with
 * "ENDPOINT: reason" in err. */
int endpoints_attach(void *sock, const char *list, bool bind, char *err, size_t errlen);
