#include "service.h"

#include <string.h>

#include "chat_service.h"
#include "echo_service.h"

const struct service_ops *const service_table[] = {
    &echo_service_ops,
    &chat_service_ops,
    NULL,
};

const struct service_ops *service_find(const char *socket_name)
{
        for (size_t i = 0; service_table[i]; i++) {
                for (const char *const *name = service_table[i]->socket_names; *name; name++) {
                        if (strcmp(*name, socket_name) == 0)
                                return service_table[i];
                }
        }
        return NULL;
}
