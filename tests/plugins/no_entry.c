/* Loader fixture: a shared object without the entry symbol. */
#include "purser/plugin.h"

PURSER_EXPORT int no_entry_something(void);
PURSER_EXPORT int no_entry_something(void)
{
    return 42;
}
