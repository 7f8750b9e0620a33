/** Vite's raw imports: a file's text (the repository test reads LICENSE this way; workerd has no file system). */
declare module "*?raw" {
  const text: string;
  export default text;
}
