/* A shared object that is not a backend: it exports no entry symbol. */
int fixture_noentry_function(void);
__attribute__((visibility("default"))) int fixture_noentry_function(void)
{
    return 42;
}
