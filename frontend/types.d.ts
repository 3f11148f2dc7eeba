// Types that JSDoc cannot spell (checked by `tsc -p jsconfig.json`; never shipped: the app
// serves only .js, .css, .json and images, see app/web/pwa.py).

/** A value of the expression language: JSDoc typedefs cannot refer to themselves. */
export type Value = null | boolean | number | string | Value[];
